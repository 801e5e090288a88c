import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { TandemError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TextLength } from '../tokenizer/tokenizer.ts';
import { createOffThreadJsonParser, OFF_THREAD_JSON_BYTES } from './json-off-thread.ts';
import { createLingeringClose, readBody } from './read-body.ts';
import type { Endpoint } from './shapes.ts';

/** An X-Request-Id a client sent that we keep: printable ASCII, at most 256 characters. */
const USABLE_REQUEST_ID = /^[\x21-\x7e]{1,256}$/;

export interface OpenAiAppOptions {
  readonly logger: Logger;
  /** Bytes; a larger body is refused with 413 before it is read. */
  readonly bodyLimit: number;
  /** A request id for requests without a usable X-Request-Id (default: a random UUID). */
  readonly newRequestId?: (() => string) | undefined;
  /** Levels of `[`/`{` nesting; a deeper body is a 400, found by the scan as it arrives, before JSON.parse. Unset: no bound. */
  readonly maxJsonDepth?: number | undefined;
  /**
   * The refusal of a generation request whose prompt text is at least `length` long (lower bounds
   * counted as the body arrives: common/openai/body-scan.ts), or undefined while it may fit: the
   * front door's context check (common/openai/prompt.ts checkPromptTextLength). Unset: none.
   */
  readonly refusePrompt?: ((endpoint: Endpoint, length: TextLength) => TandemError | undefined) | undefined;
  /**
   * A request refused while its body was read (too large, too deep, a prompt that cannot fit; not
   * a client that went away): `seconds` from its body's read starting, just after its head, to its
   * answer's last byte handed to the kernel.
   */
  readonly onBodyRefused?: ((seconds: number) => void) | undefined;
}

/** The routes whose bodies carry a prompt the scan counts. */
const PROMPT_ROUTES: Readonly<Record<string, Endpoint>> = {
  '/v1/completions': 'completion',
  '/v1/chat/completions': 'chat',
};

/**
 * The fastify app both OpenAI front doors start from (the orchestrator's frontend and the
 * workers' HTTP facade): request ids from X-Request-Id when usable, no per-request log lines
 * (too many at hundreds of streams; failures are logged by hand), our own 503 while closing
 * rather than fastify's, and every body read as JSON whatever its Content-Type (curl -d sends
 * form encoding, vLLM's clients often send none). A bad body is an `invalid_request`. Bodies are
 * scanned as they arrive (read-body.ts: size, nesting depth, a prompt too long for the context,
 * each refused before the rest is read); those of a megabyte or more are parsed on a worker
 * thread (json-off-thread.ts).
 */
export function createOpenAiApp(options: OpenAiAppOptions): FastifyInstance {
  const newRequestId = options.newRequestId ?? randomUUID;
  const app = Fastify({
    // fastify types its instance by the logger's type; widen so the app is a plain FastifyInstance.
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    requestIdHeader: false,
    return503OnClosing: false,
    genReqId: (req: IncomingMessage) => {
      const header = req.headers['x-request-id'];
      return typeof header === 'string' && USABLE_REQUEST_ID.test(header) ? header : newRequestId();
    },
  });
  app.removeAllContentTypeParsers();
  const depth = options.maxJsonDepth;
  const notJson = (message: string) =>
    new TandemError('invalid_request', `the request body is not valid JSON: ${message}`);
  const offThread = createOffThreadJsonParser();
  app.addHook('onClose', async () => offThread.close());
  // Read here, not by fastify: each chunk is scanned as it arrives (read-body.ts), so a body that
  // must be refused is answered before the rest of it is read (fastify closes the connection after).
  const lingeringClose = createLingeringClose();
  app.addContentTypeParser('*', (request, payload, done) => {
    const startedMs = performance.now();
    const endpoint = PROMPT_ROUTES[request.routeOptions.url ?? ''];
    const header = request.headers['content-length'];
    const contentLength = header === undefined ? undefined : Number(header);
    const refuse = options.refusePrompt;
    readBody(payload, Number.isSafeInteger(contentLength) ? contentLength : undefined, {
      limitBytes: options.bodyLimit,
      scan: { prompt: endpoint, maxDepth: depth },
      refusePrompt: endpoint === undefined || refuse === undefined ? undefined : (length) => refuse(endpoint, length),
    }).then((read) => {
      if (!read.ok) {
        // fastify answers a parser's error with Connection: close; the rest of the body may still be coming.
        const refused = options.onBodyRefused;
        lingeringClose.close(
          request.raw.socket,
          !request.raw.complete,
          refused === undefined || read.error.code === 'cancelled'
            ? undefined
            : () => refused((performance.now() - startedMs) / 1000),
        );
        return done(read.error, undefined);
      }
      const { bytes } = read.value;
      if (bytes.length >= OFF_THREAD_JSON_BYTES) {
        offThread.parse(bytes).then((parsed) => {
          if (parsed.ok) done(null, parsed.value);
          else if (parsed.reason === 'invalid') done(notJson(parsed.message), undefined);
          else done(new TandemError('internal', `the request body could not be parsed: ${parsed.message}`), undefined);
        });
        return;
      }
      const text = bytes.toString('utf8');
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch (error) {
        done(notJson((error as Error).message), undefined);
      }
    });
  });
  return app;
}

/** One generation request, for a handler that writes the response itself. */
export interface GenerationCall {
  readonly endpoint: Endpoint;
  readonly request: FastifyRequest;
  /** The hijacked response: a client that goes away can abort the work, and nothing is written after. */
  readonly res: ServerResponse;
  /** When the request's head arrived (the caller's clock, ms), before its body was read. */
  readonly arrivalMs: number;
}

/** POST /v1/completions and /v1/chat/completions, as both front doors serve them: hijacked, with arrival times. */
export function serveGenerationRoutes(
  app: FastifyInstance,
  now: () => number,
  handle: (call: GenerationCall) => Promise<void>,
): void {
  const arrivals = new WeakMap<IncomingMessage, number>();
  app.addHook('onRequest', async (request) => {
    arrivals.set(request.raw, now());
  });
  const route = (path: string, endpoint: Endpoint) =>
    app.post(path, (request, reply) => {
      reply.hijack();
      return handle({ endpoint, request, res: reply.raw, arrivalMs: arrivals.get(request.raw) ?? now() });
    });
  route('/v1/completions', 'completion');
  route('/v1/chat/completions', 'chat');
}
