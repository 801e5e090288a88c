import type { ServerResponse } from 'node:http';
import type { Clock } from '../../common/clock.ts';

/**
 * A deadline for clients that stop reading. A response whose socket has bytes waiting to go
 * out and has flushed none of them to the kernel for `timeoutMs` is ended: its socket is
 * destroyed, which closes the response, so the request handler sees a client that went away
 * (the worker call is cancelled, the booking and the admission slot released). Without it a
 * reader that stalls keeps its request (and, after `request_timeout_s`, its error event) waiting
 * on a drain that never comes.
 *
 * Progress is the socket's flushed byte count (bytesWritten - writableLength): a slow reader
 * that takes anything within the timeout is never cut; a response with nothing pending (idle
 * between tokens, or finished) is never cut either. Checked every timeoutMs / 4 (at least
 * 50 ms), so a stalled reader is released within 1.25 x timeoutMs.
 */
export interface WriteWatchdog {
  watch(res: ServerResponse): void;
  /** Responses watched now. */
  readonly size: number;
  close(): void;
}

export interface WriteWatchdogOptions {
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Called once per response cut. */
  readonly onTimeout: (res: ServerResponse) => void;
}

interface Watched {
  flushed: number;
  sinceMs: number;
}

export function createWriteWatchdog(options: WriteWatchdogOptions): WriteWatchdog {
  const watched = new Map<ServerResponse, Watched>();
  const everyMs = Math.max(50, options.timeoutMs / 4);
  let cancel: (() => void) | undefined;

  const sweep = () => {
    cancel = undefined;
    const now = options.clock.now();
    for (const [res, state] of watched) {
      const socket = res.socket;
      if (socket === null || socket.destroyed) {
        watched.delete(res);
        continue;
      }
      const flushed = socket.bytesWritten - socket.writableLength;
      if (socket.writableLength === 0 || flushed !== state.flushed) {
        state.flushed = flushed;
        state.sinceMs = now;
        continue;
      }
      if (now - state.sinceMs < options.timeoutMs) continue;
      watched.delete(res);
      options.onTimeout(res);
      socket.destroy();
    }
    schedule();
  };
  const schedule = () => {
    if (cancel === undefined && watched.size > 0) cancel = options.clock.setTimer(everyMs, sweep);
  };

  return {
    watch(res) {
      watched.set(res, { flushed: -1, sinceMs: options.clock.now() });
      res.once('close', () => watched.delete(res));
      schedule();
    },
    get size() {
      return watched.size;
    },
    close() {
      cancel?.();
      cancel = undefined;
      watched.clear();
    },
  };
}
