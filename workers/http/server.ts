import { setMaxListeners } from 'node:events';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TandemError, toOpenAIErrorBody, type ErrorCode } from '../../common/errors.ts';
import { createOpenAiApp, serveGenerationRoutes } from '../../common/openai/http-app.ts';
import { checkPromptTextLength } from '../../common/openai/prompt.ts';
import { handleFacadeRequest, type FacadeContext } from './handle-generation.ts';

/**
 * The vLLM-compatible HTTP facade of a worker (fastify): the OpenAI routes a vLLM server answers,
 * with vLLM's extensions (kv_transfer_params, return_token_ids, stop_reason), /metrics under
 * vLLM's names, /health, /v1/models, and a debug route listing the prefix cache's block hashes.
 * Every error has vLLM's JSON shape `{"error": {message, type, param, code}}` and its status.
 */
export interface HttpFacadeOptions extends Omit<FacadeContext, 'shutdown' | 'engineRequestId'> {
  readonly maxBodyBytes: number;
}

export interface HttpFacade {
  readonly app: FastifyInstance;
  /** Stops accepting, aborts every running request, closes the listener. */
  close(): Promise<void>;
}

export function createHttpFacade(options: HttpFacadeOptions): HttpFacade {
  const { engine, metrics, clock } = options;
  const app = createOpenAiApp({
    logger: options.logger.child({ component: 'http' }),
    bodyLimit: options.maxBodyBytes,
    // A prompt that cannot fit is refused while its body is still arriving (prepare-request.ts checks the whole one again).
    refusePrompt: (endpoint, length) => {
      const fits = checkPromptTextLength(endpoint, length, engine.info.maxModelLen, options.modelTokenizer.tokenizer);
      return fits.ok ? undefined : fits.error;
    },
  });

  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal);
  let closing = false;
  app.addHook('onRequest', async (_request, reply) => {
    if (closing)
      return sendError(
        reply.header('connection', 'close'),
        new TandemError('unavailable', 'the worker is shutting down'),
      );
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.setErrorHandler((error, request, reply) => {
    const failure = httpFailure(error);
    if (failure.httpStatus >= 500) request.log.error({ requestId: request.id, err: error }, 'request failed');
    return sendError(reply, failure);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new TandemError('not_found', `Not Found: ${request.method} ${request.url.split('?')[0]}`)),
  );

  let serial = 0;
  const generation: FacadeContext = {
    ...options,
    shutdown: shutdown.signal,
    engineRequestId: (base) => `${base}-${(++serial).toString(36)}`,
  };
  serveGenerationRoutes(
    app,
    () => clock.now(),
    (call) => handleFacadeRequest(generation, call),
  );

  // vLLM: 200 with an empty body while the engine runs, 503 once it is gone.
  app.get('/health', async (_request, reply) =>
    closing ? sendError(reply, new TandemError('unavailable', 'the worker is shutting down')) : reply.code(200).send(),
  );
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  const createdUnixS = Math.floor(engine.info.startedAtMs / 1000);
  app.get('/v1/models', async () => ({
    object: 'list',
    data: options.modelNames.slice(0, 1).map((id) => ({
      id,
      object: 'model',
      created: createdUnixS,
      owned_by: 'vllm',
      root: engine.info.servedModelName,
      parent: null,
      max_model_len: engine.info.maxModelLen,
      permission: [],
    })),
  }));
  // Debugging and the KV-event replay test: the hashes a subscriber should hold once the engine is idle.
  app.get('/debug/cached-block-hashes', async () => {
    if (!engine.cachedBlockHashes)
      throw new TandemError('not_implemented', `the ${engine.info.kind} engine does not list its cached blocks`);
    const hashes = engine.cachedBlockHashes().map(String);
    return { engine_id: engine.info.engineId, block_size: engine.info.blockSize, count: hashes.length, hashes };
  });

  return {
    app,
    async close() {
      closing = true;
      shutdown.abort();
      await app.close();
    },
  };
}

function sendError(reply: FastifyReply, error: TandemError) {
  return reply.code(error.httpStatus).type('application/json').send(toOpenAIErrorBody(error));
}

/** Fastify's own failures (body too large, bad content) as TandemErrors; ours pass through. */
function httpFailure(error: unknown): TandemError {
  if (error instanceof TandemError) return error;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  const message = error instanceof Error ? error.message : String(error);
  let code: ErrorCode = 'internal';
  if (statusCode === 413) code = 'payload_too_large';
  else if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) code = 'invalid_request';
  return new TandemError(code, message, { cause: error });
}
