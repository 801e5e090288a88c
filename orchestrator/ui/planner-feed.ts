import type { Clock } from '../../common/clock.ts';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { PlannerDecisionView, PlannerView } from './types.ts';

/**
 * The planner's last decision as the page shows it: GET `<url>/decision` every `pollMs`
 * (`tandem planner` serves it; 404 until its first decision). Without a URL the view says
 * "none"; a planner that does not answer is "unreachable" and its last decision is kept.
 */
export interface PlannerFeed {
  view(): PlannerView;
  close(): void;
}

export interface PlannerFeedOptions {
  /** Base URL of the planner's HTTP server, or undefined for none. */
  readonly url: string | undefined;
  readonly pollMs: number;
  readonly clock: Clock;
  /** Bound on one request, ms. */
  readonly timeoutMs?: number;
}

export function createPlannerFeed(options: PlannerFeedOptions): PlannerFeed {
  const { url, clock } = options;
  if (url === undefined) {
    const none: PlannerView = { state: 'none', url: null, error: null, decision: null };
    return { view: () => none, close() {} };
  }
  const endpoint = `${url.replace(/\/+$/, '')}/decision`;
  const timeoutMs = options.timeoutMs ?? 2000;
  let view: PlannerView = { state: 'waiting', url, error: null, decision: null };
  let closed = false;
  let cancelTimer: (() => void) | undefined;
  let inflight: AbortController | undefined;

  const poll = async () => {
    const controller = new AbortController();
    inflight = controller;
    const cancelTimeout = clock.setTimer(timeoutMs, () => controller.abort(new Error(`no answer within ${timeoutMs} ms`)));
    try {
      const response = await fetch(endpoint, { signal: controller.signal });
      const body: unknown = await response.json().catch(() => undefined);
      if (response.status === 404) {
        view = { state: view.decision ? 'ok' : 'waiting', url, error: null, decision: view.decision };
      } else if (!response.ok) {
        view = { ...view, state: 'unreachable', error: `GET ${endpoint} answered ${response.status}` };
      } else {
        const parsed = parseDecision(body);
        view = parsed.ok ? { state: 'ok', url, error: null, decision: parsed.value } : { ...view, state: 'unreachable', error: parsed.error.message };
      }
    } catch (error) {
      const reason = controller.signal.aborted ? (controller.signal.reason as Error).message : ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      view = { ...view, state: 'unreachable', error: `GET ${endpoint}: ${reason}` };
    } finally {
      cancelTimeout();
      inflight = undefined;
      if (!closed) cancelTimer = clock.setTimer(options.pollMs, () => void poll());
    }
  };
  void poll();

  return {
    view: () => view,
    close() {
      closed = true;
      cancelTimer?.();
      inflight?.abort(new Error('closed'));
    },
  };
}

/** The fields of the planner's /decision JSON (planner/decision-json.ts) the page shows. */
export function parseDecision(body: unknown): Result<PlannerDecisionView> {
  const bad = (what: string) => fail(new TandemError('upstream_error', `the planner's /decision is not a decision: ${what}`));
  if (body === null || typeof body !== 'object') return bad('not an object');
  const o = body as Record<string, unknown>;
  const num = (key: string) => (typeof o[key] === 'number' && Number.isFinite(o[key]) ? (o[key] as number) : undefined);
  const prefill = num('prefill_replicas');
  const decode = num('decode_replicas');
  const threshold = num('disaggregation_threshold_tokens');
  const atMs = num('at_ms');
  if (prefill === undefined || decode === undefined || threshold === undefined || atMs === undefined) return bad('prefill_replicas, decode_replicas, disaggregation_threshold_tokens or at_ms missing');
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
  return ok({ atMs, prefillReplicas: prefill, decodeReplicas: decode, thresholdTokens: threshold, predictedRequestRate: rate, pools, reasons });
}
