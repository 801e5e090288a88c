import type { FastifyInstance, FastifyReply } from 'fastify';
import { TandemError } from '../../common/errors.ts';
import type { UiAsset, UiEvent, UiFeed } from '../ui/index.ts';
import { sendError } from './http-errors.ts';
import { createSseWriter } from '../../common/openai/index.ts';

/**
 * The status page: GET /ui (and / redirects there), its static files, and GET /ui/events, a
 * server-sent-events stream of UiEvents (history on connect, then one snapshot per interval).
 * A slow page skips snapshots rather than buffering them. The streams end when the feed closes
 * (shutdown), so they never hold the server open.
 */
export interface UiRoutesOptions {
  readonly feed: UiFeed;
  readonly assets: ReadonlyMap<string, UiAsset>;
  /** Pages connected at once; more get 503. */
  readonly maxClients: number;
}

/** The page talks to this server only; uPlot styles its elements inline. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

export function registerUiRoutes(app: FastifyInstance, options: UiRoutesOptions): void {
  const { feed, assets } = options;
  app.get('/', (_request, reply) => reply.redirect('/ui'));
  for (const [path, asset] of assets) {
    const serve = (_request: unknown, reply: FastifyReply) =>
      reply.headers(SECURITY_HEADERS).type(asset.contentType).send(asset.body);
    app.get(path, serve);
    if (path === '/ui') app.get('/ui/', serve);
  }

  const streams = new Set<() => void>();
  feed.onEnd(() => {
    for (const end of [...streams]) end();
  });

  app.get('/ui/events', (request, reply) => {
    if (streams.size >= options.maxClients) {
      return sendError(
        reply,
        new TandemError('unavailable', `the status page already has ${options.maxClients} viewers (ui.max_clients)`, {
          retryAfterS: 5,
        }),
      );
    }
    reply.hijack();
    const res = reply.raw;
    const sse = createSseWriter(res, { 'x-request-id': request.id, 'x-content-type-options': 'nosniff' });
    let writing = false;
    let unsubscribe = () => {};
    const end = () => {
      streams.delete(end);
      unsubscribe();
      void sse.done();
    };
    streams.add(end);
    res.on('close', () => {
      streams.delete(end);
      unsubscribe();
    });
    // Headers now, so the page knows it is connected before the first snapshot.
    void sse.send({ type: 'hello' });
    unsubscribe = feed.subscribe((event: UiEvent) => {
      // History must arrive; a snapshot may be skipped while the socket is still full.
      if (writing && event.type === 'snapshot') return;
      writing = true;
      void sse.send(event).finally(() => (writing = false));
    });
  });
}
