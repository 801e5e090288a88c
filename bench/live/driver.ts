import type { Clock } from '../../common/clock.ts';
import type { RequestRecord } from '../stats/recorder.ts';
import type { BenchRequest, RequestSource } from '../workloads/types.ts';
import type { StreamMeasurement } from './completion-request.ts';

export interface DriveOptions {
  readonly source: RequestSource;
  readonly clock: Clock;
  /** Sends one request; must not throw (a throw is recorded as a `client_error` failure). */
  readonly send: (request: BenchRequest, signal: AbortSignal) => Promise<StreamMeasurement>;
  /**
   * true: open loop, each request sent when due (its arrivalMs after the start), whatever is in
   * flight. false: closed loop, the next available request sent as soon as a slot is free.
   */
  readonly respectArrivals: boolean;
  /** Requests in flight at most (the closed loop's concurrency; Infinity for a pure open loop). */
  readonly maxInFlight: number;
  /** Stop issuing after this many requests (Infinity: until the workload or the duration ends). */
  readonly maxRequests: number;
  /** Stop issuing after this long, ms (open loop: requests due later are not sent). */
  readonly durationMs: number;
  /** Aborting stops issuing and cancels what is in flight (recorded as `cancelled`). */
  readonly signal?: AbortSignal;
  readonly onOutcome: (outcome: RequestRecord) => void;
}

export type StopReason = 'requests' | 'duration' | 'exhausted' | 'starved' | 'aborted';

export interface DriveResult {
  readonly sent: number;
  /** Run length, ms: from the start to the last request's end. */
  readonly durationMs: number;
  readonly stoppedBy: StopReason;
}

/**
 * Drives a workload: takes requests from the source in order, sends them open- or closed-loop,
 * reports each completion back to the source (releasing next turns), and hands every outcome,
 * in times relative to the start, to `onOutcome`. Resolves when everything sent has finished.
 * `starved` means the source had nothing to offer and nothing was in flight to release more.
 */
export async function drive(options: DriveOptions): Promise<DriveResult> {
  const { source, clock } = options;
  const start = clock.now();
  const elapsed = () => clock.now() - start;
  const cancelAll = new AbortController();
  const onAbort = () => {
    cancelAll.abort(options.signal?.reason);
    notify();
  };

  let inFlight = 0;
  let sent = 0;
  let lastEnd = 0;
  let wake: () => void = () => {};
  let woken = new Promise<void>((resolve) => (wake = resolve));
  const notify = () => {
    const resolve = wake;
    woken = new Promise<void>((r) => (wake = r));
    resolve();
  };
  const running = new Set<Promise<void>>();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const launch = (request: BenchRequest) => {
    inFlight++;
    sent++;
    const sentMs = elapsed();
    const task = options
      .send(request, cancelAll.signal)
      .catch((error: unknown): StreamMeasurement => {
        const now = clock.now();
        return {
          ok: false,
          failure: 'client_error',
          detail: String(error),
          sentAt: start + sentMs,
          endAt: now,
          gapsMs: [],
          outputTokens: 0,
        };
      })
      .then((m) => {
        const endMs = m.endAt - start;
        lastEnd = Math.max(lastEnd, endMs);
        const outcome: RequestRecord = {
          id: request.id,
          ok: m.ok,
          failure: m.failure,
          arrivalMs: options.respectArrivals ? request.arrivalMs : undefined,
          sentMs,
          firstTokenMs: m.firstTokenAt === undefined ? undefined : m.firstTokenAt - start,
          lastTokenMs: m.lastTokenAt === undefined ? undefined : m.lastTokenAt - start,
          endMs,
          promptTokens: m.promptTokens ?? request.promptTokenIds.length,
          sharedPrefixTokens: request.sharedPrefixTokens,
          cachedPromptTokens: m.cachedTokens,
          outputTokens: m.outputTokens,
          itlGapsMs: m.gapsMs,
        };
        source.complete(request.id, { atMs: endMs, ok: m.ok, outputTokens: m.ok ? m.outputTokens : 0 });
        options.onOutcome(outcome);
        inFlight--;
        running.delete(task);
        notify();
      });
    running.add(task);
  };

  /** Waits for a completion, or until `ms` from now when given. */
  const waitFor = async (ms?: number) => {
    if (ms === undefined) return woken;
    const timer = new AbortController();
    await Promise.race([woken, clock.sleep(ms, timer.signal).catch(() => undefined)]);
    timer.abort();
  };

  let stoppedBy: StopReason;
  for (;;) {
    if (options.signal?.aborted) {
      stoppedBy = 'aborted';
      break;
    }
    if (sent >= options.maxRequests) {
      stoppedBy = 'requests';
      break;
    }
    if (!options.respectArrivals && elapsed() >= options.durationMs) {
      stoppedBy = 'duration';
      break;
    }
    if (inFlight >= options.maxInFlight) {
      await waitFor();
      continue;
    }
    const due = source.nextArrivalMs();
    if (due === undefined) {
      if (inFlight === 0) {
        stoppedBy = source.ended() ? 'exhausted' : 'starved';
        break;
      }
      await waitFor();
      continue;
    }
    if (options.respectArrivals) {
      if (due >= options.durationMs) {
        stoppedBy = 'duration';
        break;
      }
      const wait = due - elapsed();
      if (wait > 0) {
        // A completion may release an earlier follow-up: look again after either.
        await waitFor(wait);
        continue;
      }
    }
    const request = source.take();
    if (request) launch(request);
  }
  while (running.size > 0) await Promise.all(running);
  options.signal?.removeEventListener('abort', onAbort);
  return { sent, durationMs: Math.max(lastEnd, 0), stoppedBy };
}
