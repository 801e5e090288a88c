import { fail, ok, TandemError, type Result } from '../errors.ts';
import type { ModelTokenizer, TextLength, Tokenizer } from '../tokenizer/index.ts';
import type { ChatInput, CompletionInput } from './parse-request.ts';

/**
 * A parsed request's prompt as token ids, and its output budget checked against the context,
 * both as vLLM does them. Every front door that tokenizes (the orchestrator's frontend, the
 * workers' HTTP facade) goes through here, so the ids a router hashes are the ids an engine runs.
 */

/** max_tokens of a completion that names none (OpenAI's and vLLM's default). */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export interface TokenizedPrompt {
  readonly tokenIds: readonly number[];
  /**
   * False when a chat carries a media part (image, audio, ...): the ids are the text before it,
   * the part of the engine's prompt that is sure to be the same; the engine expands the rest.
   */
  readonly complete: boolean;
}

/** A prompt before tokenizing: text to tokenize (a rendered chat, a completion's text), or the client's ids. */
export type PromptSource =
  | { readonly text: string; readonly addSpecialTokens: boolean; readonly complete: boolean }
  | { readonly tokenIds: readonly number[]; readonly complete: true };

/** The prompt before tokenizing: a chat rendered as vLLM renders it, a completion's text or ids. Synchronous. */
export function renderPrompt(input: CompletionInput | ChatInput, modelTokenizer: ModelTokenizer): Result<PromptSource> {
  if (input.kind === 'chat') {
    if (!modelTokenizer.chatTemplate)
      return invalid('messages', 'this model has no chat template; use /v1/completions');
    const rendered = modelTokenizer.chatTemplate.renderRequest(input);
    if (!rendered.ok) return rendered;
    return ok({ text: rendered.value.text, addSpecialTokens: false, complete: rendered.value.complete });
  }
  if ('text' in input.prompt)
    return ok({ text: input.prompt.text, addSpecialTokens: input.addSpecialTokens, complete: true });
  return ok({ tokenIds: input.prompt.tokenIds, complete: true });
}

/**
 * Refuses, before any tokenizing, a prompt that cannot fit the context by its length alone
 * (Tokenizer.minTokens for text, the count for ids): vLLM's context error saying "at least".
 */
export function checkPromptLength(
  source: PromptSource,
  budget: Omit<OutputBudget, 'promptTokens' | 'minTokens'>,
  tokenizer: Tokenizer,
): Result<void> {
  const known = 'text' in source ? tokenizer.minTokens(source.text) : source.tokenIds.length;
  const error = contextError({ ...budget, promptTokens: known }, 'text' in source);
  return error ? fail(error) : ok(undefined);
}

/**
 * checkPromptLength for a prompt known only by lower bounds on its text's length: the body scan's
 * count while the body is still arriving (common/openai/read-body.ts). The same bound
 * (Tokenizer.minTokensOf, which minTokens is) and the same error; max_tokens is not known yet, so
 * only "the prompt alone does not fit" is decided here.
 */
export function checkPromptTextLength(
  endpoint: OutputBudget['endpoint'],
  length: TextLength,
  maxModelLen: number,
  tokenizer: Tokenizer,
): Result<void> {
  const error = contextError(
    { endpoint, maxModelLen, maxTokens: undefined, promptTokens: tokenizer.minTokensOf(length) },
    true,
  );
  return error ? fail(error) : ok(undefined);
}

/**
 * The ids of a rendered prompt (a chat rendered as vLLM renders it: tools, documents,
 * chat_template_kwargs, content parts; media parts cut at the first), client ids checked against
 * the vocabulary. Tokenizing is bounded by the context (Tokenizer.encodeWithin): a prompt that
 * cannot fit costs about max_model_len ids of work and fails with vLLM's context error ("at least
 * N"). A 400 names the field; a tokenizer fault is a 500.
 */
export async function tokenizeSource(
  source: PromptSource,
  modelTokenizer: ModelTokenizer,
  budget: Omit<OutputBudget, 'promptTokens' | 'minTokens'>,
): Promise<Result<TokenizedPrompt>> {
  const { tokenizer } = modelTokenizer;
  if ('tokenIds' in source) {
    const outside = source.tokenIds.find((id) => id >= tokenizer.vocabSize);
    if (outside !== undefined)
      return invalid('prompt', `prompt: token id ${outside} is out of vocabulary (size ${tokenizer.vocabSize})`);
    return ok({ tokenIds: source.tokenIds, complete: true });
  }
  try {
    // Up to the longest prompt the context takes (one token of room left): past it, the count is
    // "at least max_model_len", vLLM's prompt error; within it, the ids are exact and outputBudget
    // gives vLLM's max_tokens error word for word.
    const bounded = await tokenizer.encodeWithin(source.text, {
      addSpecialTokens: source.addSpecialTokens,
      maxTokens: Math.max(0, budget.maxModelLen - 1),
    });
    if ('atLeast' in bounded) return fail(contextError({ ...budget, promptTokens: bounded.atLeast }, true)!);
    return ok({ tokenIds: bounded.ids, complete: source.complete });
  } catch (error) {
    return fail(new TandemError('internal', `tokenization failed: ${(error as Error).message}`, { cause: error }));
  }
}

export interface OutputBudget {
  readonly endpoint: 'completion' | 'chat';
  readonly promptTokens: number;
  /** Prompt + output tokens the model holds. */
  readonly maxModelLen: number;
  /** What the client asked for; undefined: the endpoint's default. */
  readonly maxTokens: number | undefined;
  readonly minTokens: number;
}

/**
 * The max_tokens to run, with vLLM's context checks and messages (400 context_length_exceeded):
 * the prompt must leave room for one token and prompt + max_tokens must fit max_model_len.
 * Without max_tokens a completion gets 16 (at most the room left), a chat the whole room.
 */
export function outputBudget(budget: OutputBudget): Result<number> {
  const { promptTokens, maxModelLen, maxTokens } = budget;
  const what = budget.endpoint === 'chat' ? 'messages' : 'prompt';
  if (promptTokens === 0) return invalid(what, `${what}: the prompt is empty after tokenization`);
  const tooLong = contextError(budget, false);
  if (tooLong) return fail(tooLong);
  const room = maxModelLen - promptTokens;
  const granted =
    maxTokens ?? (budget.endpoint === 'completion' ? Math.min(COMPLETION_DEFAULT_MAX_TOKENS, room) : room);
  if (budget.minTokens > granted)
    return invalid('min_tokens', `min_tokens (${budget.minTokens}) must not exceed max_tokens (${granted})`);
  return ok(granted);
}

/**
 * vLLM's context-length error (400 context_length_exceeded) for a prompt of `promptTokens` (at
 * least that many when `atLeast`: known without tokenizing all of it) and max_tokens, or undefined
 * when they fit: the prompt must leave room for one token and prompt + max_tokens fit max_model_len.
 */
function contextError(
  budget: Pick<OutputBudget, 'endpoint' | 'promptTokens' | 'maxModelLen' | 'maxTokens'>,
  atLeast: boolean,
): TandemError | undefined {
  const { promptTokens, maxModelLen, maxTokens } = budget;
  const what = budget.endpoint === 'chat' ? 'messages' : 'prompt';
  const has = atLeast ? `at least ${promptTokens}` : `${promptTokens}`;
  if (promptTokens >= maxModelLen)
    return new TandemError(
      'context_length_exceeded',
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${has} input tokens. Please reduce the length of the input.`,
      { param: what },
    );
  if (maxTokens !== undefined && promptTokens + maxTokens > maxModelLen)
    return new TandemError(
      'context_length_exceeded',
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${atLeast ? 'at least ' : ''}${promptTokens + maxTokens} tokens (${has} in the ${what}, ${maxTokens} in the completion). Please reduce the length of the ${what} or completion.`,
      { param: 'max_tokens' },
    );
  return undefined;
}

function invalid(param: string, message: string): Result<never> {
  return fail(new TandemError('invalid_request', message, { param }));
}
