import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';

export interface PlannerFeedOptions {
  /** The planner's HTTP edge, e.g. "http://planner:9100" (its GET /decision). */
  readonly url: string;
  /** Between polls, ms. */
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Applies the planner's `disaggregation_threshold_tokens`. */
  readonly apply: (thresholdTokens: number) => void;
  /** Bound on one poll, ms; default the interval, at most 10 s. */
  readonly timeoutMs?: number;
}

export interface PlannerFeed {
  /** Polls once now (the first poll also runs at start). Resolves with the threshold applied, or null. */
  poll(): Promise<number | null>;
  /** Stops polling; a poll in flight is abandoned. */
  stop(): void;
}

/**
 * The `auto` threshold from the planner: polls its `/decision` (planner/hooks/http-server.ts)
 * and applies `disaggregation_threshold_tokens` when it changes. A planner that is down, has no
 * decision yet (404) or answers something else leaves the threshold as it is (logged once per
 * kind of failure in a row), so the orchestrator never depends on the planner to serve.
 */
export function startPlannerFeed(options: PlannerFeedOptions): PlannerFeed {
  const { clock, logger } = options;
  const url = `${options.url.replace(/\/+$/, '')}/decision`;
  const timeoutMs = options.timeoutMs ?? Math.min(options.intervalMs, 10_000);
  let stopped = false;
  let cancelTimer: (() => void) | undefined;
  let inflight: AbortController | undefined;
  let last: number | null = null;
  let lastProblem: string | undefined;

  const problem = (what: string, detail: Record<string, unknown> = {}) => {
    if (lastProblem !== what) logger.warn({ url, ...detail }, `planner feed: ${what}; keeping the disaggregation threshold`);
    lastProblem = what;
    return null;
  };

  async function poll(): Promise<number | null> {
    if (stopped) return null;
    const abort = new AbortController();
    inflight = abort;
    const cancelTimeout = clock.setTimer(timeoutMs, () => abort.abort(new Error(`no answer within ${timeoutMs} ms`)));
    try {
      const response = await fetch(url, { signal: abort.signal });
      if (response.status === 404) {
        await response.body?.cancel();
        return problem('the planner has no decision yet');
      }
      if (!response.ok) {
        await response.body?.cancel();
        return problem(`the planner answered ${response.status}`);
      }
      const body = (await response.json()) as { disaggregation_threshold_tokens?: unknown };
      const tokens = body.disaggregation_threshold_tokens;
      if (typeof tokens !== 'number' || !Number.isFinite(tokens) || tokens < 0) return problem('the decision has no usable disaggregation_threshold_tokens', { value: tokens });
      lastProblem = undefined;
      if (stopped) return null;
      if (tokens !== last) {
        options.apply(tokens);
        logger.info({ url, thresholdTokens: tokens, previous: last }, 'disaggregation threshold set by the planner');
        last = tokens;
      }
      return tokens;
    } catch (error) {
      if (stopped) return null;
      return problem('the planner is unreachable', { err: (error as Error).message });
    } finally {
      cancelTimeout();
      if (inflight === abort) inflight = undefined;
    }
  }

  const schedule = () => {
    if (stopped) return;
    cancelTimer = clock.setTimer(options.intervalMs, () => {
      void poll().finally(schedule);
    });
  };
  void poll().finally(schedule);

  return {
    poll,
    stop() {
      stopped = true;
      cancelTimer?.();
      inflight?.abort(new Error('stopped'));
    },
  };
}
