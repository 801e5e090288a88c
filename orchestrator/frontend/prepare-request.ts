import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { TokenizedRequest } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { OutputOptions, ParsedRequest } from './parse-request.ts';

/**
 * Turns a parsed request into the core's TokenizedRequest in two steps, so that nothing costly
 * runs before the frontend has decided to admit the request:
 * - `checkRequest` (synchronous, no tokenizing): the model, the chat template rendered as vLLM
 *   renders it (common/tokenizer/chat-template.ts), and a prompt too long for the context by its
 *   length alone (Tokenizer.minTokens: a 7 MB prompt is refused here, in microseconds);
 * - `tokenizeRequest`: tokenization bounded by the room left in the context (encodeWithin: a
 *   prompt that does not fit costs about max_model_len ids, not its whole length), then the
 *   prompt and max_tokens checked against the context length, as vLLM does.
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
  /** The prompt: text to tokenize (a rendered chat, or a completion's text), or the client's ids. */
  readonly prompt:
    | { readonly text: string; readonly addSpecialTokens: boolean }
    | { readonly tokenIds: readonly number[] };
  readonly promptParam: 'messages' | 'prompt';
}

/** max_tokens for completions when the client sends none (OpenAI's and vLLM's default). */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

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
  const { tokenizer, chatTemplate } = context.tokenizer;
  const input = parsed.input;
  const promptParam = input.kind === 'chat' ? 'messages' : 'prompt';
  let prompt: CheckedRequest['prompt'];
  let atLeast: number;
  if (input.kind === 'chat') {
    if (!chatTemplate)
      return fail(
        new TandemError('invalid_request', 'this model has no chat template; use /v1/completions', {
          param: 'messages',
        }),
      );
    // Rendered as vLLM renders it (tools, documents, kwargs, content parts); with a media part,
    // only the text before it, which is what the engine's prompt is sure to share.
    const rendered = chatTemplate.renderRequest(input);
    if (!rendered.ok) return rendered;
    prompt = { text: rendered.value.text, addSpecialTokens: false };
    atLeast = tokenizer.minTokens(prompt.text);
  } else if ('text' in input.prompt) {
    prompt = { text: input.prompt.text, addSpecialTokens: input.addSpecialTokens };
    atLeast = tokenizer.minTokens(prompt.text);
  } else {
    prompt = { tokenIds: input.prompt.tokenIds };
    atLeast = prompt.tokenIds.length;
  }
  const tooLong = contextError(atLeast, options.maxTokens, context.maxModelLen, promptParam, 'text' in prompt);
  if (tooLong) return fail(tooLong);
  return ok({ parsed, options, prompt, promptParam });
}

/** Tokenizes a checked request (bounded by the room in the context) and finishes its checks. */
export async function tokenizeRequest(
  checked: CheckedRequest,
  context: PrepareContext,
): Promise<Result<PreparedRequest>> {
  const { parsed, options, promptParam } = checked;
  const model = options.model;
  const { tokenizer } = context.tokenizer;
  let promptTokenIds: readonly number[];
  if ('tokenIds' in checked.prompt) {
    promptTokenIds = checked.prompt.tokenIds;
    const outside = promptTokenIds.find((id) => id >= tokenizer.vocabSize);
    if (outside !== undefined)
      return fail(
        new TandemError(
          'invalid_request',
          `prompt: token id ${outside} is out of vocabulary (size ${tokenizer.vocabSize})`,
          { param: 'prompt' },
        ),
      );
  } else {
    try {
      const bounded = await tokenizer.encodeWithin(checked.prompt.text, {
        addSpecialTokens: checked.prompt.addSpecialTokens,
        maxTokens: Math.max(0, context.maxModelLen - (options.maxTokens ?? 1)),
      });
      if ('atLeast' in bounded)
        return fail(contextError(bounded.atLeast, options.maxTokens, context.maxModelLen, promptParam, true)!);
      promptTokenIds = bounded.ids;
    } catch (error) {
      return fail(new TandemError('internal', `tokenization failed: ${(error as Error).message}`, { cause: error }));
    }
  }

  const promptLength = promptTokenIds.length;
  if (promptLength === 0)
    return fail(
      new TandemError('invalid_request', `${promptParam}: the prompt is empty after tokenization`, {
        param: promptParam,
      }),
    );
  const tooLong = contextError(promptLength, options.maxTokens, context.maxModelLen, promptParam, false);
  if (tooLong) return fail(tooLong);
  const room = context.maxModelLen - promptLength;
  const maxTokens =
    options.maxTokens ?? (parsed.kind === 'completion' ? Math.min(COMPLETION_DEFAULT_MAX_TOKENS, room) : room);
  if (options.minTokens > maxTokens) {
    return fail(
      new TandemError(
        'invalid_request',
        `min_tokens (${options.minTokens}) must not exceed max_tokens (${maxTokens})`,
        { param: 'min_tokens' },
      ),
    );
  }
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
        maxTokens,
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

/**
 * vLLM's context-length error for a prompt of `promptTokens` (at least that many when `atLeast`:
 * known without tokenizing it all) and max_tokens, or undefined when they fit.
 */
function contextError(
  promptTokens: number,
  maxTokens: number | undefined,
  maxModelLen: number,
  promptParam: string,
  atLeast: boolean,
): TandemError | undefined {
  const has = atLeast ? `at least ${promptTokens}` : `${promptTokens}`;
  if (promptTokens >= maxModelLen)
    return new TandemError(
      'context_length_exceeded',
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${has} input tokens. Please reduce the length of the input.`,
      { param: promptParam },
    );
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen)
    return new TandemError(
      'context_length_exceeded',
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${atLeast ? 'at least ' : ''}${promptTokens + maxTokens} tokens (${has} in the ${promptParam}, ${maxTokens} in the completion). Please reduce the length of the ${promptParam} or completion.`,
      { param: 'max_tokens' },
    );
  return undefined;
}
