import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import {
  checkPromptLength,
  outputBudget,
  renderPrompt,
  tokenizeSource,
  type PromptSource,
} from '../../common/openai/prompt.ts';
import type { TokenizedRequest } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { OutputOptions, ParsedRequest } from './parse-request.ts';

/**
 * Turns a parsed request into the core's TokenizedRequest, as vLLM does (common/openai/prompt.ts,
 * shared with the workers' HTTP facade), in two steps so that nothing costly runs before the
 * frontend has decided to admit the request:
 * - `checkRequest` (synchronous, no tokenizing): the model, the chat template rendered, and a
 *   prompt too long for the context by its length alone (Tokenizer.minTokens: a 7 MB prompt is
 *   refused here);
 * - `tokenizeRequest`: tokenization bounded by the room the context leaves (a prompt that does
 *   not fit costs about max_model_len ids, not its whole length), max_tokens checked against the
 *   context, stop_token_ids against the vocabulary.
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

/** A request that passed the checks that cost no tokenizing: what is left to tokenize. */
export interface CheckedRequest {
  readonly parsed: ParsedRequest;
  readonly options: OutputOptions & { readonly model: string };
  readonly source: PromptSource;
}

export async function prepareRequest(parsed: ParsedRequest, context: PrepareContext): Promise<Result<PreparedRequest>> {
  const checked = checkRequest(parsed, context);
  return checked.ok ? tokenizeRequest(checked.value, context) : checked;
}

/** The checks before any tokenizing: model, chat template, and a prompt too long by its length alone. */
export function checkRequest(
  parsed: ParsedRequest,
  context: Pick<PrepareContext, 'tokenizer' | 'maxModelLen' | 'models'>,
): Result<CheckedRequest> {
  // No model: the served one, as vLLM serves its only model.
  const model = parsed.options.model ?? context.models[0];
  if (model === undefined || !context.models.includes(model)) {
    return fail(new TandemError('model_not_found', `The model \`${model ?? ''}\` does not exist.`, { param: 'model' }));
  }
  const options = { ...parsed.options, model };
  const source = renderPrompt(parsed.input, context.tokenizer);
  if (!source.ok) return source;
  const fits = checkPromptLength(source.value, budgetOf(parsed, context.maxModelLen), context.tokenizer.tokenizer);
  if (!fits.ok) return fits;
  return ok({ parsed, options, source: source.value });
}

/** Tokenizes a checked request (bounded by the room in the context) and finishes its checks. */
export async function tokenizeRequest(
  checked: CheckedRequest,
  context: PrepareContext,
): Promise<Result<PreparedRequest>> {
  const { parsed, options } = checked;
  const model = options.model;
  const budget = budgetOf(parsed, context.maxModelLen);
  const prompt = await tokenizeSource(checked.source, context.tokenizer, budget);
  if (!prompt.ok) return prompt;
  const promptTokenIds = prompt.value.tokenIds;
  const maxTokens = outputBudget({ ...budget, promptTokens: promptTokenIds.length, minTokens: options.minTokens });
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

function budgetOf(parsed: ParsedRequest, maxModelLen: number) {
  return { endpoint: parsed.kind, maxModelLen, maxTokens: parsed.options.maxTokens };
}
