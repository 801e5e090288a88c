import type { Clock } from '../../common/clock.ts';
import { TandemError, toTandemError } from '../../common/errors.ts';

/**
 * The frontend's admission bound: at most `maxInflight` requests in the core (in front of the
 * dispatcher: waiting for a worker or running, so its 429 says "in progress", not "running"), the next
 * `maxQueued` waiting in arrival order. A request that finds the queue full is refused at once
 * (rate_limited, 429); one that waits `queueTimeoutMs` without a slot gives up (unavailable,
 * 503); both carry Retry-After. A waiter whose signal aborts leaves the queue.
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

interface Waiter {
  grant(): void;
}

export function createAdmissionQueue(options: AdmissionOptions): AdmissionQueue {
  let inflight = 0;
  let nextId = 0;
  const waiting = new Map<number, Waiter>(); // insertion order = arrival order
  const depthChanged = () => options.onQueueDepth?.(waiting.size);

  const release = () => {
    const first = waiting.entries().next();
    if (first.done) {
      inflight--;
      return;
    }
    // Hand the slot straight to the oldest waiter: inflight stays the same.
    const [id, waiter] = first.value;
    waiting.delete(id);
    depthChanged();
    waiter.grant();
  };
  const releaser = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };

  return {
    get inflight() {
      return inflight;
    },
    get queued() {
      return waiting.size;
    },
    acquire(signal) {
      if (signal.aborted) return Promise.reject(toTandemError(signal.reason, 'cancelled'));
      if (inflight < options.maxInflight && waiting.size === 0) {
        inflight++;
        return Promise.resolve(releaser());
      }
      if (waiting.size >= options.maxQueued) {
        return Promise.reject(
          new TandemError(
            'rate_limited',
            `too many requests: ${inflight} in progress here (the most taken at once is ${options.maxInflight}) and ${waiting.size} waiting; retry later`,
            { retryAfterS: options.retryAfterS },
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const id = nextId++;
        const leave = (error: TandemError) => {
          if (!waiting.delete(id)) return;
          depthChanged();
          cancelTimer();
          signal.removeEventListener('abort', onAbort);
          reject(error);
        };
        const onAbort = () => leave(toTandemError(signal.reason, 'cancelled'));
        const cancelTimer = options.clock.setTimer(options.queueTimeoutMs, () =>
          leave(
            new TandemError('unavailable', `no capacity for ${options.queueTimeoutMs / 1000} s; retry later`, {
              retryAfterS: options.retryAfterS,
            }),
          ),
        );
        waiting.set(id, {
          grant() {
            cancelTimer();
            signal.removeEventListener('abort', onAbort);
            resolve(releaser());
          },
        });
        depthChanged();
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
