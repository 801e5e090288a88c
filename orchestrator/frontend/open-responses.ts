import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';

/**
 * HTTP responses still being written on a server. Shutdown waits on them twice: during the grace
 * period (a request the dispatcher has finished may not have sent its last bytes yet), and after
 * it, while the requests it cancelled write their end (a stream's SSE error event and [DONE]).
 */
export interface OpenResponses {
  readonly count: number;
  /** Resolves when no response is open. */
  idle(): Promise<void>;
}

export function trackOpenResponses(server: Server): OpenResponses {
  let open = 0;
  const waiters: (() => void)[] = [];
  server.on('request', (_request, response) => {
    open++;
    response.once('close', () => {
      if (--open === 0) for (const resolve of waiters.splice(0)) resolve();
    });
  });
  return {
    get count() {
      return open;
    },
    idle: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}

/** How long closeFrontend lets cancelled requests write their last bytes before cutting every socket, ms. */
export const CLOSE_FLUSH_MS = 1000;

/**
 * Closes a frontend at the end of a shutdown: closing aborts every running request (the
 * frontend's preClose hook), whose responses then end the one way they can (before the first
 * byte a 503; a stream with an SSE error event, then [DONE]); up to `flushMs` for those bytes,
 * then every connection is cut (a client that does not read must not hold the shutdown).
 */
export async function closeFrontend(
  app: FastifyInstance,
  open: OpenResponses,
  flushMs: number = CLOSE_FLUSH_MS,
): Promise<void> {
  const closing = app.close();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([open.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, flushMs)))]);
  clearTimeout(timer);
  app.server.closeAllConnections();
  await closing;
}
