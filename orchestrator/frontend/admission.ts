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
  /** At least 1. */
  readonly maxInflight: number;
  readonly maxQueued: number;
  readonly queueTimeoutMs: number;
  /** Seconds to tell refused clients to wait. */
  readonly retryAfterS: number;
  readonly clock: Clock;
  /** Called with the queue length whenever it changes (for the queue-depth gauge). */
  readonly onQueueDepth?: (queued: number) => void;
}

/** A request waiting for a slot; `admit` takes a slot for it and settles its acquire. */
interface Waiter {
  admit(): void;
}

export function createAdmissionQueue(options: AdmissionOptions): AdmissionQueue {
  // A counter and a FIFO of waiters (a Set keeps insertion order and drops a waiter that leaves in
  // O(1)). Every request passes here, so a free slot with nobody waiting is granted with no
  // AbortController, timer or listener (p-queue, used before, cost ~20 us per request here).
  let running = 0;
  const line = new Set<Waiter>();
  const depthChanged = () => options.onQueueDepth?.(line.size);

  const takeSlot = (): (() => void) => {
    running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      // The freed slot goes to the oldest waiter still in line.
      const next = line.values().next();
      if (!next.done) next.value.admit();
    };
  };

  return {
    get inflight() {
      return running;
    },
    get queued() {
      return line.size;
    },
    acquire(signal) {
      if (signal.aborted) return Promise.reject(toTandemError(signal.reason, 'cancelled'));
      // A slot freed a moment ago goes to the oldest waiter first, not to this arrival.
      if (running < options.maxInflight && line.size === 0) return Promise.resolve(takeSlot());
      if (line.size >= options.maxQueued) {
        return Promise.reject(
          new TandemError(
            'rate_limited',
            `too many requests: ${running} in progress here (the most taken at once is ${options.maxInflight}) and ${line.size} waiting; retry later`,
            { retryAfterS: options.retryAfterS },
          ),
        );
      }
      return new Promise((resolve, reject) => {
        const leaveLine = () => {
          line.delete(waiter);
          depthChanged();
          cancelTimer();
          signal.removeEventListener('abort', onAbort);
        };
        const waiter: Waiter = {
          admit() {
            leaveLine();
            resolve(takeSlot());
          },
        };
        const give = (error: TandemError) => {
          if (!line.has(waiter)) return;
          leaveLine();
          reject(error);
        };
        const onAbort = () => give(toTandemError(signal.reason, 'cancelled'));
        line.add(waiter);
        depthChanged();
        const cancelTimer = options.clock.setTimer(options.queueTimeoutMs, () =>
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
