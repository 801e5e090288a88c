import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { decisionToJson } from '../decision-json.ts';
import type { DecisionBoard } from './board.ts';

export interface PlannerHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The planner's HTTP edge: GET /metrics (Prometheus text), GET /decision (the last decision as
 * JSON, 404 before the first), GET /healthz. Nothing else; it only translates.
 */
export async function startPlannerHttpServer(options: {
  host: string;
  port: number;
  registry: Registry;
  board: DecisionBoard;
}): Promise<PlannerHttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
    } else if (path === '/decision') {
      const decision = options.board.latest();
      if (!decision)
        response
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'no decision yet' }));
      else
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(decisionToJson(decision)));
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
