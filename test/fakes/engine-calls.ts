import type { SamplingOptions } from '../../common/sampling.ts';
import type { FinishReason, RequestUsage, TokenStream } from '../../workers/engine/index.ts';

/**
 * Small pieces every test of an engine or a worker backend writes: a call's sampling and an
 * engine stream read to its end.
 */

/**
 * A call's sampling with every core field resolved (as the frontend resolves them, see
 * `SamplingOptions`) to greedy, no stop id, EOS honoured, no minimum: what a test means by
 * "just generate `maxTokens` tokens". `overrides` sets the fields a test is about.
 */
export function greedySampling(maxTokens: number, overrides: Partial<SamplingOptions> = {}): SamplingOptions {
  return {
    maxTokens,
    temperature: 0,
    topP: 1,
    seed: undefined,
    stopTokenIds: [],
    ignoreEos: false,
    minTokens: 0,
    ...overrides,
  };
}

/** An engine's stream read to its end: every token it streamed, then how it finished and its usage. */
export async function collectTokens(
  stream: TokenStream,
): Promise<{ tokens: number[]; finishReason: FinishReason; usage: RequestUsage }> {
  const tokens: number[] = [];
  for await (const chunk of stream) tokens.push(...chunk.tokenIds);
  const { finishReason, usage } = await stream.result;
  return { tokens, finishReason, usage };
}
