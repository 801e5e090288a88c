import type { Clock } from '../../common/clock.ts';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';

/** The fields of the planner's /decision JSON (planner/decision-json.ts) the orchestrator reads. */
export interface PlannerDecisionView {
  readonly atMs: number;
  readonly prefillReplicas: number;
  readonly decodeReplicas: number;
  /** disaggregation_threshold_tokens: uncached prompt tokens, >= 0. */
  readonly thresholdTokens: number;
  readonly predictedRequestRate: number;
  readonly pools: readonly {
    readonly name: string;
    readonly role: string;
    readonly gpu: string;
    readonly replicas: number;
  }[];
  readonly reasons: readonly string[];
}

export interface PlannerView {
  /** none: no planner configured; unreachable: it did not answer (or not a decision); waiting: no decision yet. */
  readonly state: 'none' | 'unreachable' | 'waiting' | 'ok';
  readonly url: string | null;
  readonly error: string | null;
  /** The last good decision, kept through failures. */
  readonly decision: PlannerDecisionView | null;
}

export interface PlannerFeedOptions {
  /** Base URL of the planner's HTTP edge (`tandem planner`: /decision), or undefined for none. */
  readonly url: string | undefined;
  /** Between polls, ms (the next poll is scheduled when one ends). */
  readonly pollMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Bound on one poll, ms; default the interval, at most 10 s. */
  readonly timeoutMs?: number;
  /**
   * Applies the planner's `disaggregation_threshold_tokens` as the live `auto` threshold; called
   * with each new value (not again while it is unchanged). Unset: the decision is only shown.
   */
  readonly onThreshold?: (tokens: number) => void;
}

export interface PlannerFeed {
  view(): PlannerView;
  /** Polls once now (the first poll also runs at start) and returns the view after it. */
  poll(): Promise<PlannerView>;
  /** Stops polling; a poll in flight is abandoned. */
  close(): void;
}

/**
 * The orchestrator's one reader of the planner: GET `<url>/decision` every `pollMs`, feeding
 * both the status page (`view()`) and the live disaggregation threshold (`onThreshold`). A planner
 * that is down, has no decision yet (404) or answers something else changes nothing: the page
 * keeps its last decision (marked unreachable) and the threshold stays, so the orchestrator never
 * depends on the planner to serve. Each kind of failure is logged once while it lasts.
 */
export function createPlannerFeed(options: PlannerFeedOptions): PlannerFeed {
  const { url, clock, logger } = options;
  if (url === undefined) {
    const none: PlannerView = { state: 'none', url: null, error: null, decision: null };
    return { view: () => none, poll: async () => none, close() {} };
  }
  const endpoint = `${url.replace(/\/+$/, '')}/decision`;
  const base: string = url;
  const timeoutMs = options.timeoutMs ?? Math.min(options.pollMs, 10_000);
  let view: PlannerView = { state: 'waiting', url, error: null, decision: null };
  let applied: number | null = null;
  let lastProblem: string | undefined;
  let closed = false;
  let cancelTimer: (() => void) | undefined;
  let inflight: AbortController | undefined;

  const problem = (state: 'waiting' | 'unreachable', what: string) => {
    if (lastProblem !== what)
      logger.warn(
        { url: endpoint },
        `planner feed: ${what}; keeping the last decision and the disaggregation threshold`,
      );
    lastProblem = what;
    view = {
      state: state === 'waiting' && view.decision ? 'ok' : state,
      url: base,
      error: state === 'waiting' ? null : what,
      decision: view.decision,
    };
  };

  async function poll(): Promise<PlannerView> {
    if (closed) return view;
    const abort = new AbortController();
    inflight = abort;
    const cancelTimeout = clock.setTimer(timeoutMs, () => abort.abort(new Error(`no answer within ${timeoutMs} ms`)));
    try {
      const response = await fetch(endpoint, { signal: abort.signal });
      const body: unknown = await response.json().catch(() => undefined);
      if (closed) return view;
      if (response.status === 404) problem('waiting', 'the planner has no decision yet');
      else if (!response.ok) problem('unreachable', `GET ${endpoint} answered ${response.status}`);
      else {
        const parsed = parseDecision(body);
        if (!parsed.ok) problem('unreachable', parsed.error.message);
        else {
          lastProblem = undefined;
          view = { state: 'ok', url: base, error: null, decision: parsed.value };
          const tokens = parsed.value.thresholdTokens;
          if (options.onThreshold && tokens !== applied) {
            options.onThreshold(tokens);
            logger.info(
              { url: endpoint, thresholdTokens: tokens, previous: applied },
              'disaggregation threshold set by the planner',
            );
            applied = tokens;
          }
        }
      }
    } catch (error) {
      if (!closed) {
        const reason = abort.signal.aborted
          ? (abort.signal.reason as Error).message
          : (((error as Error).cause as Error | undefined)?.message ?? (error as Error).message);
        problem('unreachable', `GET ${endpoint}: ${reason}`);
      }
    } finally {
      cancelTimeout();
      if (inflight === abort) inflight = undefined;
    }
    return view;
  }

  const schedule = () => {
    if (closed) return;
    cancelTimer = clock.setTimer(options.pollMs, () => void poll().finally(schedule));
  };
  void poll().finally(schedule);

  return {
    view: () => view,
    poll,
    close() {
      closed = true;
      cancelTimer?.();
      inflight?.abort(new Error('closed'));
    },
  };
}

/** The planner's /decision JSON as the orchestrator reads it; anything else is an error naming what is missing. */
export function parseDecision(body: unknown): Result<PlannerDecisionView> {
  const bad = (what: string) =>
    fail(new TandemError('upstream_error', `the planner's /decision is not a decision: ${what}`));
  if (body === null || typeof body !== 'object') return bad('not an object');
  const o = body as Record<string, unknown>;
  const num = (key: string) => (typeof o[key] === 'number' && Number.isFinite(o[key]) ? (o[key] as number) : undefined);
  const prefill = num('prefill_replicas');
  const decode = num('decode_replicas');
  const threshold = num('disaggregation_threshold_tokens');
  const atMs = num('at_ms');
  if (prefill === undefined || decode === undefined || threshold === undefined || atMs === undefined)
    return bad('prefill_replicas, decode_replicas, disaggregation_threshold_tokens or at_ms missing');
  if (threshold < 0) return bad(`disaggregation_threshold_tokens ${threshold} is negative`);
  const predicted = o.predicted as Record<string, unknown> | undefined;
  const rate = typeof predicted?.request_rate === 'number' ? predicted.request_rate : 0;
  const pools = Array.isArray(o.pools)
    ? o.pools.flatMap((pool: unknown) => {
        const p = pool as Record<string, unknown> | null;
        return p && typeof p.name === 'string' && typeof p.replicas === 'number'
          ? [{ name: p.name, role: String(p.role ?? ''), gpu: String(p.gpu ?? ''), replicas: p.replicas }]
          : [];
      })
    : [];
  const reasons = Array.isArray(o.reasons) ? o.reasons.filter((r): r is string => typeof r === 'string') : [];
  return ok({
    atMs,
    prefillReplicas: prefill,
    decodeReplicas: decode,
    thresholdTokens: threshold,
    predictedRequestRate: rate,
    pools,
    reasons,
  });
}
