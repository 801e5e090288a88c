import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import type { ModeLabel, OrchestratorMetrics, RequestOutcome } from '../metrics/index.ts';
import type { RouteSummary, Usage } from '../serving.ts';
import { requestLogLine } from './request-log.ts';

/**
 * One request's contribution to the metrics and the log. Token timings are taken as events
 * arrive and recorded when the request ends, because the `mode` label is known only then (from
 * the core's `done`). Token counters move only when the core reported usage, so cached / prompt
 * is a true hit rate. ITL is one observation per token event (an event carrying several tokens,
 * as after speculative decoding, counts once, as in vLLM). With `log`, the end of the request
 * is one info line (request-log.ts).
 */
export interface RequestObserver {
  /** A token event carrying `count` (>= 1) tokens arrived now. */
  tokens(count: number): void;
  /** The request ended; only the first call counts. */
  finish(outcome: RequestOutcome, mode: ModeLabel, usage?: Usage, route?: RouteSummary): void;
}

export interface RequestLog {
  readonly logger: Logger;
  readonly requestId: string;
  /** Rate limit (failure-log.ts `requestLine`): undefined drops the line, a number is how many were dropped before it. Default: every line. */
  readonly admit?: (outcome: RequestOutcome) => number | undefined;
}

export function createRequestObserver(
  metrics: OrchestratorMetrics,
  clock: Clock,
  arrivalMs: number,
  log?: RequestLog,
): RequestObserver {
  let firstTokenMs: number | undefined;
  let lastTokenMs = 0;
  let tokensSeen = 0;
  /** Seconds between token events, observed into the ITL histogram in one step at the end. */
  const gapsS: number[] = [];
  let finished = false;
  return {
    tokens(count) {
      const now = clock.now();
      tokensSeen += count;
      if (firstTokenMs === undefined) firstTokenMs = now;
      else gapsS.push((now - lastTokenMs) / 1000);
      lastTokenMs = now;
    },
    finish(outcome, mode, usage, route) {
      if (finished) return;
      finished = true;
      const endMs = clock.now();
      const dropped = log ? (log.admit?.(outcome) ?? 0) : undefined;
      if (log && dropped !== undefined) {
        const line = requestLogLine({
          requestId: log.requestId,
          outcome,
          mode,
          arrivalMs,
          firstTokenMs,
          endMs,
          tokensSeen,
          usage,
          route,
        });
        if (dropped > 0)
          log.logger.info(
            { ...line.fields, suppressed: dropped },
            `${line.message} (${dropped} more rejected requests not logged)`,
          );
        else log.logger.info(line.fields, line.message);
      }
      metrics.countRequest(outcome, mode);
      if (outcome === 'rejected') return;
      if (firstTokenMs !== undefined) metrics.observeTimeToFirstToken(mode, (firstTokenMs - arrivalMs) / 1000);
      metrics.observeInterTokenLatencies(mode, gapsS);
      metrics.observeE2eLatency((endMs - arrivalMs) / 1000);
      if (usage)
        metrics.recordRequestTokens({
          promptTokens: usage.promptTokens,
          cachedPromptTokens: usage.cachedPromptTokens,
          generationTokens: usage.completionTokens,
        });
    },
  };
}
