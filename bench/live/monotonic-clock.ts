import { performance } from 'node:perf_hooks';
import type { Clock } from '../../common/clock.ts';

/**
 * A Clock on the process's monotonic high-resolution timer: fractional milliseconds since the
 * process started, never stepped by NTP. The live generator measures TTFT and token gaps with
 * it (Date.now() has 1 ms resolution and can jump).
 */
export function createMonotonicClock(): Clock {
  const clock: Clock = {
    now: () => performance.now(),
    setTimer(delayMs, fn) {
      const timer = setTimeout(fn, Math.max(0, delayMs));
      return () => clearTimeout(timer);
    },
    sleep(delayMs, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          cancel();
          reject(signal?.reason);
        };
        const cancel = clock.setTimer(delayMs, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
  return clock;
}
