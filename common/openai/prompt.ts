import { fail, ok, TandemError, type Result } from '../errors.ts';
import type { ModelTokenizer } from '../tokenizer/index.ts';
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

/**
 * Renders a chat with the model's template exactly as vLLM renders it (tools, documents,
 * chat_template_kwargs, content parts; common/tokenizer/chat-template.ts), tokenizes text, and
 * checks given ids against the vocabulary. A 400 names the field; a tokenizer fault is a 500.
 */
export async function tokenizePrompt(
  input: CompletionInput | ChatInput,
  modelTokenizer: ModelTokenizer,
): Promise<Result<TokenizedPrompt>> {
  const { tokenizer, chatTemplate } = modelTokenizer;
  try {
    if (input.kind === 'chat') {
      if (!chatTemplate) return invalid('messages', 'this model has no chat template; use /v1/completions');
      const rendered = chatTemplate.renderRequest(input);
      if (!rendered.ok) return rendered;
      const tokenIds = await tokenizer.encode(rendered.value.text, { addSpecialTokens: false });
      return ok({ tokenIds, complete: rendered.value.complete });
    }
    if ('text' in input.prompt) {
      const tokenIds = await tokenizer.encode(input.prompt.text, { addSpecialTokens: input.addSpecialTokens });
      return ok({ tokenIds, complete: true });
    }
    const tokenIds = input.prompt.tokenIds;
    const outside = tokenIds.find((id) => id >= tokenizer.vocabSize);
    if (outside !== undefined)
      return invalid('prompt', `prompt: token id ${outside} is out of vocabulary (size ${tokenizer.vocabSize})`);
    return ok({ tokenIds, complete: true });
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
  const room = maxModelLen - promptTokens;
  if (room < 1) {
    return fail(
      new TandemError(
        'context_length_exceeded',
        `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input.`,
        { param: what },
      ),
    );
  }
  if (maxTokens !== undefined && maxTokens > room) {
    return fail(
      new TandemError(
        'context_length_exceeded',
        `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the ${what}, ${maxTokens} in the completion). Please reduce the length of the ${what} or completion.`,
        { param: 'max_tokens' },
      ),
    );
  }
  const granted =
    maxTokens ?? (budget.endpoint === 'completion' ? Math.min(COMPLETION_DEFAULT_MAX_TOKENS, room) : room);
  if (budget.minTokens > granted)
    return invalid('min_tokens', `min_tokens (${budget.minTokens}) must not exceed max_tokens (${granted})`);
  return ok(granted);
}

function invalid(param: string, message: string): Result<never> {
  return fail(new TandemError('invalid_request', message, { param }));
}
