import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { outputBudget, tokenizePrompt } from '../../common/openai/prompt.ts';
import type { TokenizedRequest } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { OutputOptions, ParsedRequest } from './parse-request.ts';

/**
 * Turns a parsed request into the core's TokenizedRequest: checks the model, renders and
 * tokenizes the prompt and checks max_tokens against the context, both as vLLM does
 * (common/openai/prompt.ts, shared with the workers' HTTP facade), and checks stop_token_ids.
 */

export interface PreparedRequest {
  readonly kind: ParsedRequest['kind'];
  /** The model resolved (the served one when the client named none). */
  readonly options: OutputOptions & { readonly model: string };
  readonly request: TokenizedRequest;
  /** The prompt's last ids, left context for the streaming detokenizer. */
  readonly promptTail: readonly number[];
}

export interface PrepareContext {
  readonly tokenizer: ModelTokenizer;
  /** Prompt + output tokens the model can hold. */
  readonly maxModelLen: number;
  readonly models: readonly string[];
  readonly requestId: string;
  /** A session header's value, if the client sent one (wins over the body's `user`). */
  readonly sessionHeader: string | undefined;
  /** Unix epoch milliseconds. */
  readonly deadlineUnixMs: number;
}

export async function prepareRequest(parsed: ParsedRequest, context: PrepareContext): Promise<Result<PreparedRequest>> {
  // No model: the served one, as vLLM serves its only model.
  const model = parsed.options.model ?? context.models[0];
  if (model === undefined || !context.models.includes(model)) {
    return fail(new TandemError('model_not_found', `The model \`${model ?? ''}\` does not exist.`, { param: 'model' }));
  }
  const options = { ...parsed.options, model };
  const prompt = await tokenizePrompt(parsed.input, context.tokenizer);
  if (!prompt.ok) return prompt;
  const promptTokenIds = prompt.value.tokenIds;
  const maxTokens = outputBudget({
    endpoint: parsed.kind,
    promptTokens: promptTokenIds.length,
    maxModelLen: context.maxModelLen,
    maxTokens: options.maxTokens,
    minTokens: options.minTokens,
  });
  if (!maxTokens.ok) return maxTokens;
  const { tokenizer } = context.tokenizer;
  const badStopId = options.stopTokenIds.find((id) => id >= tokenizer.vocabSize);
  if (badStopId !== undefined)
    return fail(
      new TandemError('invalid_request', `stop_token_ids: ${badStopId} is out of vocabulary`, {
        param: 'stop_token_ids',
      }),
    );

  return ok({
    kind: parsed.kind,
    options,
    promptTail: promptTokenIds.slice(-6),
    request: {
      requestId: context.requestId,
      model,
      promptTokenIds,
      sampling: {
        maxTokens: maxTokens.value,
        temperature: options.temperature,
        topP: options.topP,
        seed: options.seed,
        stopTokenIds: options.stopTokenIds,
        ignoreEos: options.ignoreEos,
        minTokens: options.minTokens,
        topK: options.topK,
        minP: options.minP,
        presencePenalty: options.presencePenalty,
        frequencyPenalty: options.frequencyPenalty,
        repetitionPenalty: options.repetitionPenalty,
        ...(options.logprobs === undefined ? {} : { logprobs: options.logprobs }),
      },
      sessionKey: context.sessionHeader ?? options.user,
      deadlineUnixMs: context.deadlineUnixMs,
      openai: { endpoint: parsed.kind, body: parsed.body, stream: options.stream, includeUsage: options.includeUsage },
      tokenLevelRefusal: parsed.tokenLevelRefusal,
    },
  });
}
