import type { ServerResponse } from 'node:http';
import { TandemError } from '../errors.ts';

/**
 * What ends a generation request early, for both OpenAI front doors (the orchestrator's
 * frontend and the workers' HTTP facade): the client closing its connection before the
 * response finished (`cancelled`), or the server shutting down (`unavailable`, with
 * `shutdownRetryAfterS` when given). `signal` aborts with that error; `dispose()` stops
 * watching once the request is done.
 */
export interface RequestEnd {
  readonly signal: AbortSignal;
  /** Whether the client went away (nothing more can be written to it). */
  clientGone(): boolean;
  /** Aborts for another reason (a deadline, say). */
  abort(reason: TandemError): void;
  dispose(): void;
}

export function watchRequestEnd(res: ServerResponse, shutdown: AbortSignal, shutdownRetryAfterS?: number): RequestEnd {
  const controller = new AbortController();
  let gone = false;
  const onClose = () => {
    if (res.writableFinished) return;
    gone = true;
    controller.abort(new TandemError('cancelled', 'the client disconnected'));
  };
  const onShutdown = () =>
    controller.abort(
      new TandemError(
        'unavailable',
        'the server is shutting down',
        shutdownRetryAfterS === undefined ? {} : { retryAfterS: shutdownRetryAfterS },
      ),
    );
  res.on('close', onClose);
  shutdown.addEventListener('abort', onShutdown, { once: true });
  return {
    signal: controller.signal,
    clientGone: () => gone,
    abort: (reason) => controller.abort(reason),
    dispose() {
      shutdown.removeEventListener('abort', onShutdown);
      res.off('close', onClose);
    },
  };
}
