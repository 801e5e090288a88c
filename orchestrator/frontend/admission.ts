import PQueue from 'p-queue';
import type { Clock } from '../../common/clock.ts';
import { TandemError, toTandemError } from '../../common/errors.ts';

/**
 * The frontend's admission bound: at most `maxInflight` requests in the core (in front of the
 * dispatcher: waiting for a worker or running, so its 429 says "in progress", not "running"), the next
 * `maxQueued` waiting in arrival order. A request that finds the queue full is refused at once
 * (rate_limited, 429); one that waits `queueTimeoutMs` without a slot gives up (unavailable,
 * 503); both carry Retry-After. A waiter whose signal aborts leaves the queue. The slots and
 * the order are p-queue's (concurrency = maxInflight).
 */
export interface AdmissionQueue {
  /** Resolves with a release function (call it exactly once) when a slot is free. */
  acquire(signal: AbortSignal): Promise<() => void>;
  readonly inflight: number;
  readonly queued: number;
}

export interface AdmissionOptions {
  readonly maxInflight: number;
  readonly maxQueued: number;
  readonly queueTimeoutMs: number;
  /** Seconds to tell refused clients to wait. */
  readonly retryAfterS: number;
  readonly clock: Clock;
  /** Called with the queue length whenever it changes (for the queue-depth gauge). */
  readonly onQueueDepth?: (queued: number) => void;
}

export function createAdmissionQueue(options: AdmissionOptions): AdmissionQueue {
  // p-queue keeps the slots (concurrency) and the arrival order. A waiter that leaves (timeout,
  // client gone) aborts its task's signal: p-queue drops it when its turn comes, without running
  // it, so `waiting` (live waiters) rather than queue.size is what the bound and the gauge count.
  const queue = new PQueue({ concurrency: options.maxInflight });
  let running = 0;
  let waiting = 0;
  const depthChanged = () => options.onQueueDepth?.(waiting);

  return {
    get inflight() {
      return running;
    },
    get queued() {
      return waiting;
    },
    acquire(signal) {
      if (signal.aborted) return Promise.reject(toTandemError(signal.reason, 'cancelled'));
      // A slot freed a moment ago goes to the oldest waiter first, not to this arrival.
      const mustWait = running >= options.maxInflight || waiting > 0;
      if (mustWait && waiting >= options.maxQueued) {
        return Promise.reject(
          new TandemError(
            'rate_limited',
            `too many requests: ${running} in progress here (the most taken at once is ${options.maxInflight}) and ${waiting} waiting; retry later`,
            { retryAfterS: options.retryAfterS },
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const leave = new AbortController();
        let inLine = false;
        let granted = false;
        let cancelTimer = () => {};
        const stopWaiting = () => {
          inLine = false;
          waiting--;
          depthChanged();
          cancelTimer();
          signal.removeEventListener('abort', onAbort);
        };
        const give = (error: TandemError) => {
          if (!inLine) return;
          stopWaiting();
          leave.abort(error);
          reject(error);
        };
        const onAbort = () => give(toTandemError(signal.reason, 'cancelled'));
        queue
          .add(
            () =>
              new Promise<void>((freeSlot) => {
                granted = true;
                if (inLine) stopWaiting();
                running++;
                let released = false;
                resolve(() => {
                  if (released) return;
                  released = true;
                  running--;
                  freeSlot();
                });
              }),
            { signal: leave.signal },
          )
          .catch(() => undefined); // a waiter that left: dropped at its turn
        if (granted) return; // a free slot: p-queue ran the task at once
        inLine = true;
        waiting++;
        depthChanged();
        cancelTimer = options.clock.setTimer(options.queueTimeoutMs, () =>
          give(
            new TandemError('unavailable', `no capacity for ${options.queueTimeoutMs / 1000} s; retry later`, {
              retryAfterS: options.retryAfterS,
            }),
          ),
        );
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
