import type { BenchRequest, RequestSource } from './types.ts';

/**
 * A RequestSource for workloads whose requests do not depend on completions: `generate` yields
 * requests in arrival order (undefined once the stream ends) and is called one request ahead of
 * `take`, so generation order is take order. Completion reports are ignored.
 */
export function createIndependentSource(generate: () => BenchRequest | undefined): RequestSource {
  let ahead: BenchRequest | undefined;
  let finished = false;
  const peek = (): BenchRequest | undefined => {
    if (ahead === undefined && !finished) {
      ahead = generate();
      if (ahead === undefined) finished = true;
    }
    return ahead;
  };
  return {
    nextArrivalMs: () => peek()?.arrivalMs,
    take() {
      const request = peek();
      ahead = undefined;
      return request;
    },
    complete() {},
    ended: () => peek() === undefined,
  };
}
