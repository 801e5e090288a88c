import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { checkPromptLength, outputBudget, renderPrompt, tokenizeSource } from '../../common/openai/prompt.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { EngineInfo, SamplingParams } from '../engine/engine-api.ts';
import type { FacadeRequest } from './parse-request.ts';

/** A parsed request made runnable: model checked, prompt rendered and tokenized, limits applied. */
export interface EngineRequest {
  readonly parsed: FacadeRequest;
  /** The served model name the response reports. */
  readonly model: string;
  readonly promptTokenIds: readonly number[];
  readonly sampling: SamplingParams;
}

export interface EngineRequestContext {
  readonly tokenizer: ModelTokenizer;
  readonly info: EngineInfo;
  /** Names a request may carry; the first is the one reported. */
  readonly modelNames: readonly string[];
}

/**
 * Checks the model (404), then renders and tokenizes the prompt and applies vLLM's context checks
 * exactly as the orchestrator's frontend does (common/openai/prompt.ts), bounded the same way: a
 * prompt too long by its length alone is refused untokenized, and tokenizing stops once the ids
 * pass the room the context leaves (a prompt that cannot fit costs about max_model_len ids).
 */
export async function prepareEngineRequest(
  parsed: FacadeRequest,
  context: EngineRequestContext,
): Promise<Result<EngineRequest>> {
  const model = parsed.model ?? context.modelNames[0]!;
  if (!context.modelNames.includes(model))
    return fail(new TandemError('model_not_found', `The model \`${model}\` does not exist.`, { param: 'model' }));
  const source = renderPrompt(parsed.input, context.tokenizer);
  if (!source.ok) return source;
  const budget = { endpoint: parsed.endpoint, maxModelLen: context.info.maxModelLen, maxTokens: parsed.maxTokens };
  const fits = checkPromptLength(source.value, budget, context.tokenizer.tokenizer);
  if (!fits.ok) return fits;
  const prompt = await tokenizeSource(source.value, context.tokenizer, budget);
  if (!prompt.ok) return prompt;
  const maxTokens = outputBudget({
    ...budget,
    promptTokens: prompt.value.tokenIds.length,
    minTokens: parsed.minTokens,
  });
  if (!maxTokens.ok) return maxTokens;
  return ok({
    parsed,
    model,
    promptTokenIds: prompt.value.tokenIds,
    sampling: {
      maxTokens: maxTokens.value,
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
