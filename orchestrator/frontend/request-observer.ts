import type { Clock } from '../../common/clock.ts';
import type { ModeLabel, OrchestratorMetrics, RequestOutcome } from '../metrics/index.ts';
import type { Usage } from '../serving.ts';

/**
 * One request's contribution to the metrics. Token timings are taken as events arrive and
 * recorded when the request ends, because the `mode` label is known only then (from the core's
 * `done`). Token counters move only when the core reported usage, so cached / prompt is a true
 * hit rate. ITL is one observation per token event (an event carrying several tokens, as after
 * speculative decoding, counts once, as in vLLM).
 */
export interface RequestObserver {
  /** A token event carrying `count` (>= 1) tokens arrived now. */
  tokens(count: number): void;
  /** The request ended; only the first call counts. */
  finish(outcome: RequestOutcome, mode: ModeLabel, usage?: Usage): void;
}

export function createRequestObserver(metrics: OrchestratorMetrics, clock: Clock, arrivalMs: number): RequestObserver {
  let firstTokenMs: number | undefined;
  let lastTokenMs = 0;
  const gapsMs: number[] = [];
  let finished = false;
  return {
    tokens() {
      const now = clock.now();
      if (firstTokenMs === undefined) firstTokenMs = now;
      else gapsMs.push(now - lastTokenMs);
      lastTokenMs = now;
    },
    finish(outcome, mode, usage) {
      if (finished) return;
      finished = true;
      metrics.countRequest(outcome, mode);
      if (outcome === 'rejected') return;
      if (firstTokenMs !== undefined) metrics.observeTimeToFirstToken(mode, (firstTokenMs - arrivalMs) / 1000);
      for (const gap of gapsMs) metrics.observeInterTokenLatency(mode, gap / 1000);
      metrics.observeE2eLatency((clock.now() - arrivalMs) / 1000);
      if (usage) metrics.recordRequestTokens({ promptTokens: usage.promptTokens, cachedPromptTokens: usage.cachedPromptTokens, generationTokens: usage.completionTokens });
    },
  };
}
