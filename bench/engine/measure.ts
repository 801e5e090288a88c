import { createVirtualClock } from '../../common/clock.ts';
import { createSimEngine, type SimEngineOptions } from '../../workers/engine/index.ts';

/** One request of a measured workload. */
export interface WorkloadRequest {
  /** Arrival on the virtual clock, ms. */
  readonly arrivalMs: number;
  readonly promptTokenIds: readonly number[];
  readonly maxTokens: number;
}

export interface RequestTiming {
  /** Arrival to first token, ms of model time. */
  readonly ttftMs: number;
  /** Gaps between consecutive tokens, ms of model time. */
  readonly itlMs: readonly number[];
  readonly tokens: number;
  readonly preemptions: number;
}

export interface WorkloadResult {
  readonly requests: readonly RequestTiming[];
  /** Virtual time from the first arrival to the last token, ms. */
  readonly spanMs: number;
  readonly steps: number;
  readonly preemptions: number;
}

/**
 * Runs a workload through a real simulated engine on a virtual clock (time scale 1, so clock
 * ms are model ms) and reports what a client would have measured: first-token and
 * inter-token times per request.
 */
export function runWorkload(options: SimEngineOptions, workload: readonly WorkloadRequest[]): WorkloadResult {
  const clock = createVirtualClock();
  const engine = createSimEngine({ ...options, timeScale: 1 }, { clock });
  const timings: RequestTiming[] = [];
  workload.forEach((request, index) => {
    clock.setTimer(request.arrivalMs, () => {
      const times: number[] = [];
      engine.generate(
        {
          requestId: `r${index}`,
          promptTokenIds: request.promptTokenIds,
          sampling: { maxTokens: request.maxTokens, ignoreEos: true },
        },
        {
          onChunk: (chunk) => {
            for (let i = 0; i < chunk.tokenIds.length; i++) times.push(clock.now());
            if (chunk.finishReason === null) return;
            if (chunk.finishReason !== 'length') throw new Error(`request r${index} ended with ${chunk.finishReason}`);
            timings[index] = {
              ttftMs: times[0]! - request.arrivalMs,
              itlMs: times.slice(1).map((t, i) => t - times[i]!),
              tokens: times.length,
              preemptions: chunk.usage?.preemptions ?? 0,
            };
          },
        },
      );
    });
  });
  clock.runTimers();
  const status = engine.status();
  const first = Math.min(...workload.map((r) => r.arrivalMs));
  return {
    requests: timings,
    spanMs: clock.now() - first,
    steps: status.stepsTotal,
    preemptions: status.preemptionsTotal,
  };
}

export const mean = (values: readonly number[]) =>
  values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A prompt of `length` distinct-looking token ids, valid for every model profile (below 120,000); `salt` keeps prompts from sharing a prefix. */
export function syntheticPrompt(length: number, salt: number): number[] {
  return Array.from({ length }, (_, i) => ((salt * 7919 + i * 104_729) % 120_000) + 1);
}
