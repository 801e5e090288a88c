import { TandemError } from '../../common/errors.ts';
import { MAX_LOGPROBS } from '../../common/sampling.ts';
import type { SamplingParams } from './engine-api.ts';
import { penaltiesOn } from './logits-sampler.ts';
import type { ResolvedSampling } from './sequence.ts';

/** Checks token ids: a non-empty array of integers in [0, vocabSize). Throws invalid_request. */
export function validatePrompt(tokenIds: readonly number[], vocabSize: number, param = 'prompt'): void {
  if (!Array.isArray(tokenIds))
    throw new TandemError('invalid_request', `${param} must be an array of token ids`, { param });
  if (tokenIds.length === 0) throw new TandemError('invalid_request', `${param} must not be empty`, { param });
  for (let i = 0; i < tokenIds.length; i++) {
    const id = tokenIds[i];
    if (!Number.isInteger(id) || id! < 0 || id! >= vocabSize) {
      throw new TandemError(
        'invalid_request',
        `${param}[${i}] = ${String(id)} is not a token id of this model (0 to ${vocabSize - 1})`,
        { param },
      );
    }
  }
}

/**
 * Checks and defaults sampling parameters; `seedWordOf` derives the token stream's seed from the
 * checked seed and temperature. Throws invalid_request naming the field.
 */
export function resolveSampling(
  sampling: SamplingParams,
  seedWordOf: (seed: number | bigint | undefined, temperature: number) => number,
): ResolvedSampling {
  if (sampling === null || typeof sampling !== 'object')
    throw new TandemError('invalid_request', 'sampling parameters are required', { param: 'sampling' });
  const { maxTokens } = sampling;
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw new TandemError('invalid_request', `max_tokens must be a positive integer, got ${String(maxTokens)}`, {
      param: 'max_tokens',
    });
  const minTokens = sampling.minTokens ?? 0;
  if (!Number.isInteger(minTokens) || minTokens < 0 || minTokens > maxTokens) {
    throw new TandemError(
      'invalid_request',
      `min_tokens must be an integer from 0 to max_tokens (${maxTokens}), got ${String(minTokens)}`,
      { param: 'min_tokens' },
    );
  }
  const temperature = sampling.temperature ?? 0;
  if (!(temperature >= 0) || !Number.isFinite(temperature))
    throw new TandemError('invalid_request', `temperature must be a non-negative number, got ${String(temperature)}`, {
      param: 'temperature',
    });
  const topP = sampling.topP ?? 1;
  if (!(topP > 0 && topP <= 1))
    throw new TandemError('invalid_request', `top_p must be in (0, 1], got ${String(topP)}`, { param: 'top_p' });
  const { seed } = sampling;
  if (seed !== undefined && typeof seed !== 'bigint' && !Number.isInteger(seed))
    throw new TandemError('invalid_request', `seed must be an integer, got ${String(seed)}`, { param: 'seed' });
  const stop = sampling.stopTokenIds ?? [];
  if (!Array.isArray(stop))
    throw new TandemError('invalid_request', 'stop_token_ids must be an array of token ids', {
      param: 'stop_token_ids',
    });
  for (const id of stop) {
    if (!Number.isInteger(id) || id < 0)
      throw new TandemError('invalid_request', `stop_token_ids must hold non-negative integers, got ${String(id)}`, {
        param: 'stop_token_ids',
      });
  }
  const topK = sampling.topK ?? 0;
  if (!Number.isInteger(topK) || topK < -1)
    throw new TandemError('invalid_request', `top_k must be -1, 0 or a positive integer, got ${String(topK)}`, {
      param: 'top_k',
    });
  const minP = sampling.minP ?? 0;
  if (!(minP >= 0 && minP <= 1))
    throw new TandemError('invalid_request', `min_p must be in [0, 1], got ${String(minP)}`, { param: 'min_p' });
  const presencePenalty = penalty(sampling.presencePenalty, 'presence_penalty');
  const frequencyPenalty = penalty(sampling.frequencyPenalty, 'frequency_penalty');
  const repetitionPenalty = sampling.repetitionPenalty ?? 1;
  if (!(repetitionPenalty > 0 && Number.isFinite(repetitionPenalty)))
    throw new TandemError(
      'invalid_request',
      `repetition_penalty must be a positive number, got ${String(repetitionPenalty)}`,
      { param: 'repetition_penalty' },
    );
  const logprobs = sampling.logprobs ?? null;
  if (logprobs !== null && !(Number.isInteger(logprobs) && logprobs >= 0 && logprobs <= MAX_LOGPROBS)) {
    throw new TandemError(
      'invalid_request',
      `logprobs must be an integer from 0 to ${MAX_LOGPROBS}, got ${String(logprobs)}`,
      { param: 'logprobs' },
    );
  }
  const shaping = {
    temperature,
    topK: Math.max(0, topK),
    topP,
    minP,
    presencePenalty,
    frequencyPenalty,
    repetitionPenalty,
    logprobs,
  };
  return {
    maxTokens,
    minTokens,
    ignoreEos: sampling.ignoreEos ?? false,
    stopTokenIds: stop.length > 0 ? new Set(stop) : null,
    seedWord: seedWordOf(seed, temperature),
    shaping,
    shaped: shaping.topK > 0 || minP > 0 || penaltiesOn(shaping) || logprobs !== null,
  };
}

function penalty(value: number | undefined, param: string): number {
  const v = value ?? 0;
  if (!(v >= -2 && v <= 2))
    throw new TandemError('invalid_request', `${param} must be in [-2, 2], got ${String(v)}`, { param });
  return v;
}
