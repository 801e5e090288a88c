import { createHash, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { ServingCore } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import { createAdmissionQueue } from './admission.ts';
import { createFailureLog } from './failure-log.ts';
import { createOpenAiApp, serveGenerationRoutes } from '../../common/openai/http-app.ts';
import { checkPromptTextLength } from '../../common/openai/prompt.ts';
import { createLoadShedder } from './load-shedder.ts';
import { createWriteWatchdog } from './write-watchdog.ts';
import { handleGeneration, type GenerationContext } from './handle-generation.ts';
import { sendError, toHttpError } from './http-errors.ts';
import { registerOpsRoutes } from './ops-routes.ts';
import { createRequestParsers } from './parse-request.ts';
import { registerUiRoutes, type UiRoutesOptions } from './ui-routes.ts';

export type OrchestratorConfig = Config['orchestrator'];

export interface FrontendOptions {
  readonly core: ServingCore;
  readonly tokenizer: ModelTokenizer;
  readonly config: OrchestratorConfig;
  readonly logger: Logger;
  readonly metrics: OrchestratorMetrics;
  readonly clock: Clock;
  /** Ids for requests that come without a usable X-Request-Id (default: random UUIDs). */
  readonly newRequestId?: () => string;
  /** The status page (/ui, /ui/events); absent: not served. */
  readonly ui?: UiRoutesOptions;
}

/** Routes that run a generation (their failures count in tandem_requests_total). */
const GENERATION_ROUTES = new Set(['/v1/completions', '/v1/chat/completions']);

/**
 * The OpenAI-compatible HTTP front door, as a fastify app the caller listens on (and closes:
 * closing aborts every running request). Everything behind it is `core`. Every response
 * carries X-Request-Id (the client's, or a generated one); every error has OpenAI's shape.
 */
export function createFrontend(options: FrontendOptions): FastifyInstance {
  const { config, clock, metrics, core } = options;
  const app = createOpenAiApp({
    logger: options.logger,
    bodyLimit: config.max_body_bytes,
    newRequestId: options.newRequestId,
    maxJsonDepth: config.limits.max_json_depth,
    // A prompt that cannot fit is refused while its body is still arriving (prepare-request.ts checks the whole one again).
    refusePrompt: (endpoint, length) => {
      const fits = checkPromptTextLength(endpoint, length, config.max_model_len, options.tokenizer.tokenizer);
      return fits.ok ? undefined : fits.error;
    },
    onBodyRefused: (seconds) => metrics.observeBodyRefusal(seconds),
  });

  const expectedAuth = config.api_key === undefined ? undefined : digest(`Bearer ${config.api_key}`);
  const shutdown = new AbortController();
  // Every running request listens for shutdown: thousands of listeners is the normal case.
  setMaxListeners(0, shutdown.signal);
  const failures = createFailureLog(options.logger, clock);
  const shedder = createLoadShedder({
    thresholdMs: config.admission.shed_event_loop_lag_ms,
    clock,
    onSample: (seconds) => metrics.setEventLoopLag(seconds),
  });
  app.addHook('onClose', async () => shedder.close());
  const watchdog = createWriteWatchdog({
    timeoutMs: config.client_write_timeout_s * 1000,
    clock,
    onTimeout: () => {
      metrics.countClientWriteTimeout();
      failures.failed(
        '-',
        new TandemError(
          'cancelled',
          `a client took none of its response for ${config.client_write_timeout_s} s: connection closed`,
        ),
      );
    },
  });
  app.server.on('request', (_request, response) => watchdog.watch(response));
  app.addHook('onClose', async () => watchdog.close());
  app.addHook('onRequest', async (request, reply) => {
    if (shutdown.signal.aborted) {
      return sendError(
        reply.header('x-request-id', request.id).header('connection', 'close'),
        new TandemError('unavailable', 'the server is shutting down', { retryAfterS: 1 }),
      );
    }
    // The orchestrator's own CPU is the bottleneck: refuse before reading the body, not after tokenizing it.
    if (shedder.shedding() && GENERATION_ROUTES.has(request.routeOptions.url ?? '')) {
      metrics.countRequest('rejected', 'none');
      metrics.countLoadShed();
      const lag = Math.round(shedder.lagMs);
      return sendError(
        reply.header('x-request-id', request.id),
        new TandemError(
          'unavailable',
          `the orchestrator is overloaded (its event loop is ${lag} ms behind); retry later`,
          { retryAfterS: config.admission.retry_after_s },
        ),
      );
    }
    if (expectedAuth === undefined || !(request.url.startsWith('/v1/') || request.url.startsWith('/debug/'))) return;
    const given = request.headers.authorization;
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expectedAuth)) {
      if (GENERATION_ROUTES.has(request.routeOptions.url ?? '')) metrics.countRequest('rejected', 'none');
      return sendError(
        reply.header('x-request-id', request.id),
        new TandemError('unauthenticated', 'Incorrect API key provided.'),
      );
    }
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.setErrorHandler((error, request, reply) => {
    const failure = toHttpError(error);
    failures.failed(request.id, failure);
    if (GENERATION_ROUTES.has(request.routeOptions.url ?? ''))
      metrics.countRequest(failure.httpStatus >= 500 ? 'error' : 'rejected', 'none');
    return sendError(reply, failure);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new TandemError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.addHook('preClose', async () => shutdown.abort());

  const parsers = createRequestParsers(config.limits);
  const admission = createAdmissionQueue({
    maxInflight: config.admission.max_inflight,
    // Standalone (no queue behind it): as many may wait as run, for half the default TTFT SLO.
    maxQueued: config.admission.max_queued ?? config.admission.max_inflight,
    queueTimeoutMs: (config.admission.queue_timeout_s ?? 0.5) * 1000,
    retryAfterS: config.admission.retry_after_s,
    clock,
    onQueueDepth: (n) => metrics.setQueueDepth(n),
  });
  const generation: GenerationContext = {
    core,
    tokenizer: options.tokenizer,
    parsers,
    admission,
    metrics,
    clock,
    logger: options.logger,
    maxModelLen: config.max_model_len,
    requestTimeoutMs: config.request_timeout_s * 1000,
    sessionHeader: config.session_header.toLowerCase(),
    failures,
    shutdown: shutdown.signal,
  };
  serveGenerationRoutes(
    app,
    () => clock.now(),
    (call) => handleGeneration(generation, call),
  );

  registerOpsRoutes(app, {
    core,
    tokenizer: options.tokenizer,
    parsers,
    metrics,
    maxModelLen: config.max_model_len,
    sessionHeader: generation.sessionHeader,
    createdUnixS: Math.floor(clock.now() / 1000),
  });
  if (options.ui) registerUiRoutes(app, options.ui);
  return app;
}

/** Fixed-length digest, so comparing keys takes the same time whatever their lengths. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
