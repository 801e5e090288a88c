import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { TokenizedRequest } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { OutputOptions, ParsedRequest } from './parse-request.ts';

/**
 * Turns a parsed request into the core's TokenizedRequest: checks the model, renders the chat
 * template, tokenizes (off the event loop), and checks the prompt and max_tokens against the
 * context length, as vLLM does.
 */

export interface PreparedRequest {
  readonly kind: ParsedRequest['kind'];
  readonly options: OutputOptions;
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

/** max_tokens for completions when the client sends none (OpenAI's and vLLM's default). */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export async function prepareRequest(parsed: ParsedRequest, context: PrepareContext): Promise<Result<PreparedRequest>> {
  const { options } = parsed;
  if (!context.models.includes(options.model)) {
    return fail(new TandemError('model_not_found', `The model \`${options.model}\` does not exist.`, { param: 'model' }));
  }
  const { tokenizer, chatTemplate } = context.tokenizer;
  const promptParam = parsed.kind === 'chat' ? 'messages' : 'prompt';

  let promptTokenIds: readonly number[];
  try {
    if (parsed.kind === 'chat') {
      if (!chatTemplate) return fail(new TandemError('invalid_request', 'this model has no chat template; use /v1/completions', { param: 'messages' }));
      const rendered = chatTemplate.render(parsed.messages, {
        addGenerationPrompt: parsed.addGenerationPrompt,
        continueFinalMessage: parsed.continueFinalMessage,
        kwargs: parsed.templateKwargs,
      });
      if (!rendered.ok) return rendered;
      promptTokenIds = await tokenizer.encode(rendered.value, { addSpecialTokens: false });
    } else if ('text' in parsed.prompt) {
      promptTokenIds = await tokenizer.encode(parsed.prompt.text, { addSpecialTokens: parsed.addSpecialTokens });
    } else {
      promptTokenIds = parsed.prompt.tokenIds;
      const outside = promptTokenIds.find((id) => id >= tokenizer.vocabSize);
      if (outside !== undefined) return fail(new TandemError('invalid_request', `prompt: token id ${outside} is out of vocabulary (size ${tokenizer.vocabSize})`, { param: 'prompt' }));
    }
  } catch (error) {
    return fail(new TandemError('internal', `tokenization failed: ${(error as Error).message}`, { cause: error }));
  }

  const promptLength = promptTokenIds.length;
  if (promptLength === 0) return fail(new TandemError('invalid_request', `${promptParam}: the prompt is empty after tokenization`, { param: promptParam }));
  const room = context.maxModelLen - promptLength;
  if (room < 1) {
    return fail(
      new TandemError('context_length_exceeded', `This model's maximum context length is ${context.maxModelLen} tokens. However, your request has ${promptLength} input tokens. Please reduce the length of the input.`, { param: promptParam }),
    );
  }
  if (options.maxTokens !== undefined && options.maxTokens > room) {
    return fail(
      new TandemError(
        'context_length_exceeded',
        `This model's maximum context length is ${context.maxModelLen} tokens. However, you requested ${promptLength + options.maxTokens} tokens (${promptLength} in the ${promptParam}, ${options.maxTokens} in the completion). Please reduce the length of the ${promptParam} or completion.`,
        { param: 'max_tokens' },
      ),
    );
  }
  const maxTokens = options.maxTokens ?? (parsed.kind === 'completion' ? Math.min(COMPLETION_DEFAULT_MAX_TOKENS, room) : room);
  if (options.minTokens > maxTokens) {
    return fail(new TandemError('invalid_request', `min_tokens (${options.minTokens}) must not exceed max_tokens (${maxTokens})`, { param: 'min_tokens' }));
  }
  const badStopId = options.stopTokenIds.find((id) => id >= tokenizer.vocabSize);
  if (badStopId !== undefined) return fail(new TandemError('invalid_request', `stop_token_ids: ${badStopId} is out of vocabulary`, { param: 'stop_token_ids' }));

  return ok({
    kind: parsed.kind,
    options,
    promptTail: promptTokenIds.slice(-6),
    request: {
      requestId: context.requestId,
      model: options.model,
      promptTokenIds,
      sampling: {
        maxTokens,
        temperature: options.temperature,
        topP: options.topP,
        seed: options.seed,
        stopTokenIds: options.stopTokenIds,
        ignoreEos: options.ignoreEos,
        minTokens: options.minTokens,
      },
      sessionKey: context.sessionHeader ?? options.user,
      deadlineUnixMs: context.deadlineUnixMs,
    },
  });
}
