import type { FastifyInstance } from 'fastify';
import { isTandemError } from '../../common/errors.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { ServingCore } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import { sendError } from './http-errors.ts';
import type { RequestParsers } from './parse-request.ts';
import { prepareRequest } from './prepare-request.ts';

/**
 * The operational routes: /health (the process is alive), /ready (the core can serve, else
 * 503), /metrics (Prometheus text), /v1/models, /debug/workers and /debug/route (a dry run of
 * the routing decision for a request body; nothing is sent to any worker).
 */

export interface OpsContext {
  readonly core: ServingCore;
  readonly tokenizer: ModelTokenizer;
  readonly parsers: RequestParsers;
  readonly metrics: OrchestratorMetrics;
  readonly maxModelLen: number;
  /** Request header carrying the session key (as for generation requests). */
  readonly sessionHeader: string;
  /** Unix seconds the server was created (the models' `created`). */
  readonly createdUnixS: number;
}

export function registerOpsRoutes(app: FastifyInstance, context: OpsContext): void {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const readiness = context.core.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(context.metrics.contentType).send(await context.metrics.render()),
  );

  app.get('/v1/models', async () => ({
    object: 'list',
    data: context.core.models().map((id) => ({
      id,
      object: 'model',
      created: context.createdUnixS,
      owned_by: 'tandem',
      root: id,
      parent: null,
      max_model_len: context.maxModelLen,
      permission: [],
    })),
  }));

  app.get('/debug/workers', async () => context.core.workers());

  app.post('/debug/route', async (request, reply) => {
    const body = request.body;
    const isChat = body !== null && typeof body === 'object' && 'messages' in body;
    const parsed = isChat ? context.parsers.chat(body) : context.parsers.completion(body);
    if (!parsed.ok) return sendError(reply, parsed.error);
    const sessionOf = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
    const prepared = await prepareRequest(parsed.value, {
      tokenizer: context.tokenizer,
      maxModelLen: context.maxModelLen,
      models: context.core.models(),
      requestId: request.id,
      sessionHeader: sessionOf(request.headers[context.sessionHeader]),
      deadlineUnixMs: Number.MAX_SAFE_INTEGER,
    });
    if (!prepared.ok) return sendError(reply, prepared.error);
    const { request: tokenized } = prepared.value;
    try {
      return {
        request_id: request.id,
        model: tokenized.model,
        prompt_tokens: tokenized.promptTokenIds.length,
        decision: context.core.explain(tokenized),
      };
    } catch (error) {
      if (isTandemError(error)) return sendError(reply, error);
      throw error;
    }
  });
}
