/**
 * One worker's health as a pure state machine over status-poll outcomes. A new worker is
 * `pending` until its first good poll (then `healthy` at once: a worker that answers is routed
 * to without waiting for a streak). `failureThreshold` failed polls in a row eject a healthy
 * worker; `successThreshold` good polls in a row readmit an ejected one. Time comes in as
 * arguments (ms), so the same code runs on a virtual clock.
 */
export type HealthState = 'pending' | 'healthy' | 'ejected';

export interface HealthThresholds {
  readonly failureThreshold: number;
  readonly successThreshold: number;
}

export interface HealthSnapshot {
  readonly state: HealthState;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  /** Times the worker was ejected since it was added. */
  readonly ejections: number;
  /** The last failure's message, or null. */
  readonly lastError: string | null;
  /** Clock time of the last poll outcome and of the last state change, ms (null: never). */
  readonly lastCheckAtMs: number | null;
  readonly sinceMs: number | null;
}

export interface HealthTracker {
  /** Records a poll outcome; returns the new state when it changed, else null. */
  observe(ok: boolean, nowMs: number, error?: string): HealthState | null;
  readonly state: HealthState;
  snapshot(): HealthSnapshot;
}

export function createHealthTracker(thresholds: HealthThresholds): HealthTracker {
  let state: HealthState = 'pending';
  let failures = 0;
  let successes = 0;
  let ejections = 0;
  let lastError: string | null = null;
  let lastCheckAtMs: number | null = null;
  let sinceMs: number | null = null;

  const move = (next: HealthState, nowMs: number): HealthState | null => {
    if (next === state) return null;
    state = next;
    sinceMs = nowMs;
    if (next === 'ejected') ejections++;
    return next;
  };

  return {
    get state() {
      return state;
    },
    observe(ok, nowMs, error) {
      lastCheckAtMs = nowMs;
      if (ok) {
        successes++;
        failures = 0;
        if (state === 'pending') return move('healthy', nowMs);
        if (state === 'ejected' && successes >= thresholds.successThreshold) return move('healthy', nowMs);
        return null;
      }
      failures++;
      successes = 0;
      lastError = error ?? 'status check failed';
      if (state === 'healthy' && failures >= thresholds.failureThreshold) return move('ejected', nowMs);
      return null;
    },
    snapshot: () => ({
      state,
      consecutiveFailures: failures,
      consecutiveSuccesses: successes,
      ejections,
      lastError,
      lastCheckAtMs,
      sinceMs,
    }),
  };
}
