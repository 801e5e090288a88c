import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { EngineInfo, SamplingParams } from '../engine/engine-api.ts';
import type { ParsedRequest } from './parse-request.ts';

/** A parsed request made runnable: model checked, prompt rendered and tokenized, limits applied. */
export interface PreparedRequest {
  readonly parsed: ParsedRequest;
  /** The served model name the response reports. */
  readonly model: string;
  readonly promptTokenIds: readonly number[];
  readonly sampling: SamplingParams;
}

export interface PrepareContext {
  readonly tokenizer: ModelTokenizer;
  readonly info: EngineInfo;
  /** Names a request may carry; the first is the one reported. */
  readonly modelNames: readonly string[];
}

/** max_tokens of a completion that names none (OpenAI's and vLLM's default). */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

/**
 * Checks the model (404), renders the chat template, tokenizes text prompts, and applies vLLM's
 * context checks (400 context_length_exceeded): the prompt must leave room for one token, and
 * prompt + max_tokens must fit max_model_len. Token ids outside the vocabulary are left to the
 * engine, which refuses them (400).
 */
export async function prepareRequest(parsed: ParsedRequest, context: PrepareContext): Promise<Result<PreparedRequest>> {
  const model = parsed.model ?? context.modelNames[0]!;
  if (!context.modelNames.includes(model))
    return fail(new TandemError('model_not_found', `The model \`${model}\` does not exist.`, { param: 'model' }));
  const { tokenizer, chatTemplate } = context.tokenizer;
  const what = parsed.endpoint === 'chat' ? 'messages' : 'prompt';

  let promptTokenIds: readonly number[];
  const prompt = parsed.prompt;
  try {
    if (prompt.kind === 'chat') {
      if (!chatTemplate)
        return fail(
          new TandemError('invalid_request', 'this model has no chat template; use /v1/completions', {
            param: 'messages',
          }),
        );
      const rendered = chatTemplate.render(prompt.messages, {
        addGenerationPrompt: prompt.addGenerationPrompt,
        continueFinalMessage: prompt.continueFinalMessage,
        kwargs: prompt.kwargs,
      });
      if (!rendered.ok) return rendered;
      promptTokenIds = await tokenizer.encode(rendered.value, { addSpecialTokens: false });
    } else if (prompt.kind === 'text') {
      promptTokenIds = await tokenizer.encode(prompt.text, { addSpecialTokens: prompt.addSpecialTokens });
    } else {
      promptTokenIds = prompt.tokenIds;
    }
  } catch (error) {
    return fail(new TandemError('internal', `tokenization failed: ${(error as Error).message}`, { cause: error }));
  }

  const length = promptTokenIds.length;
  const maxModelLen = context.info.maxModelLen;
  if (length === 0)
    return fail(new TandemError('invalid_request', `the ${what} is empty after tokenization`, { param: what }));
  const room = maxModelLen - length;
  if (room < 1) {
    return fail(
      new TandemError(
        'context_length_exceeded',
        `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${length} input tokens. Please reduce the length of the input.`,
        { param: what },
      ),
    );
  }
  if (parsed.maxTokens !== undefined && parsed.maxTokens > room) {
    return fail(
      new TandemError(
        'context_length_exceeded',
        `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${length + parsed.maxTokens} tokens (${length} in the ${what}, ${parsed.maxTokens} in the completion). Please reduce the length of the ${what} or completion.`,
        { param: 'max_tokens' },
      ),
    );
  }
  const maxTokens =
    parsed.maxTokens ?? (parsed.endpoint === 'completion' ? Math.min(COMPLETION_DEFAULT_MAX_TOKENS, room) : room);
  if (parsed.minTokens > maxTokens)
    return fail(
      new TandemError('invalid_request', `min_tokens (${parsed.minTokens}) must not exceed max_tokens (${maxTokens})`, {
        param: 'min_tokens',
      }),
    );
  return ok({
    parsed,
    model,
    promptTokenIds,
    sampling: {
      maxTokens,
      temperature: parsed.temperature,
      topP: parsed.topP,
      seed: parsed.seed,
      stopTokenIds: parsed.stopTokenIds,
      ignoreEos: parsed.ignoreEos,
      minTokens: parsed.minTokens,
      topK: parsed.topK,
      minP: parsed.minP,
      presencePenalty: parsed.presencePenalty,
      frequencyPenalty: parsed.frequencyPenalty,
      repetitionPenalty: parsed.repetitionPenalty,
    },
  });
}
