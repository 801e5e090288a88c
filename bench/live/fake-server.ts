import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The parts of a /v1/completions body the fake reads. */
export interface CompletionBody {
  readonly model: string;
  readonly prompt: string | number[];
  readonly max_tokens: number;
  readonly stream?: boolean;
  readonly stream_options?: { include_usage?: boolean };
  readonly user?: string;
  readonly [key: string]: unknown;
}

/** How the fake answers one request. */
export type FakeReply =
  | {
      readonly kind: 'stream';
      readonly ttftMs: number;
      readonly itlMs: number;
      readonly tokens: number;
      readonly cachedTokens: number;
    }
  | { readonly kind: 'status'; readonly status: number; readonly message: string }
  /** Streams `afterTokens` tokens, then an error event and [DONE] (vLLM's mid-stream error). */
  | { readonly kind: 'error-mid-stream'; readonly afterTokens: number }
  /** Streams `afterTokens` tokens, then destroys the socket. */
  | { readonly kind: 'reset'; readonly afterTokens: number }
  /** Never answers. */
  | { readonly kind: 'hang' };

export interface FakeServerOptions {
  readonly host?: string;
  /** 0 (default): any free port, read back from `url`. */
  readonly port?: number;
  readonly model?: string;
  /** Default replies: first token after ttftMs, then a token every itlMs, max_tokens tokens. */
  readonly ttftMs?: number;
  readonly itlMs?: number;
  /** Per-request override; `index` counts requests from 0. */
  readonly reply?: (body: CompletionBody, index: number, requestId: string | undefined) => FakeReply | undefined;
}

export interface ReceivedRequest {
  readonly requestId: string | undefined;
  readonly body: CompletionBody;
}

export interface FakeServer {
  readonly url: string;
  /** Every accepted completion request, in arrival order. */
  readonly received: ReceivedRequest[];
  /** `start <id>` and `end <id>` in the order they happened (end: last byte written). */
  readonly events: string[];
  /** Most completion requests in progress at once. */
  readonly maxConcurrent: number;
  close(): Promise<void>;
}

/**
 * An OpenAI-compatible stand-in that streams like vLLM: `/v1/models`, and `/v1/completions` with
 * `stream: true` answering `data: {text_completion chunk}` lines, one token per chunk, a final
 * usage chunk with prompt_tokens_details.cached_tokens when stream_options.include_usage is set,
 * then `data: [DONE]`. Its timing is what you set, so a load generator's measurements can be
 * checked against it; it validates bodies as the orchestrator would (400 on a bad one). It
 * caches nothing: usage reports 0 cached tokens unless `reply` says otherwise.
 */
export async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const model = options.model ?? 'fake-model';
  const received: ReceivedRequest[] = [];
  const events: string[] = [];
  let active = 0;
  let maxConcurrent = 0;
  let index = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/v1/models') {
      return json(res, 200, {
        object: 'list',
        data: [
          {
            id: model,
            object: 'model',
            created: 0,
            owned_by: 'tandem-fake',
            root: model,
            parent: null,
            max_model_len: 32768,
          },
        ],
      });
    }
    if (req.method !== 'POST' || req.url !== '/v1/completions')
      return json(res, 404, errorBody(404, `no route ${req.method} ${req.url}`));
    const body = await readJson(req);
    const problem = validate(body, model);
    if (problem) return json(res, problem.status, errorBody(problem.status, problem.message));
    const completion = body as CompletionBody;
    const requestId = req.headers['x-request-id'] as string | undefined;
    received.push({ requestId, body: completion });
    const promptTokens =
      typeof completion.prompt === 'string' ? Math.ceil(completion.prompt.length / 4) : completion.prompt.length;
    const reply = options.reply?.(completion, index++, requestId) ?? {
      kind: 'stream',
      ttftMs: options.ttftMs ?? 50,
      itlMs: options.itlMs ?? 10,
      tokens: completion.max_tokens,
      cachedTokens: 0,
    };
    if (reply.kind === 'status') return json(res, reply.status, errorBody(reply.status, reply.message));

    active++;
    maxConcurrent = Math.max(maxConcurrent, active);
    events.push(`start ${requestId}`);
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    try {
      if (reply.kind === 'hang') {
        await new Promise<void>((resolve) => res.on('close', resolve));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const id = `cmpl-${requestId ?? index}`;
      const chunk = (extra: Record<string, unknown>) =>
        `data: ${JSON.stringify({ id, object: 'text_completion', created: 0, model, ...extra })}\n\n`;
      const tokens = reply.kind === 'stream' ? reply.tokens : reply.afterTokens;
      const ttft = reply.kind === 'stream' ? reply.ttftMs : (options.ttftMs ?? 50);
      const itl = reply.kind === 'stream' ? reply.itlMs : (options.itlMs ?? 10);
      for (let t = 0; t < tokens && !closed; t++) {
        await sleep(t === 0 ? ttft : itl);
        const last = reply.kind === 'stream' && t === tokens - 1;
        res.write(
          chunk({
            choices: [
              { index: 0, text: ` t${t}`, logprobs: null, finish_reason: last ? 'length' : null, stop_reason: null },
            ],
          }),
        );
      }
      if (closed) return;
      if (reply.kind === 'reset') {
        res.socket?.destroy();
        return;
      }
      if (reply.kind === 'error-mid-stream') {
        res.write(`data: ${JSON.stringify(errorBody(500, 'engine failed mid-stream'))}\n\n`);
      } else if (completion.stream_options?.include_usage) {
        const usage = {
          prompt_tokens: promptTokens,
          completion_tokens: tokens,
          total_tokens: promptTokens + tokens,
          prompt_tokens_details: { cached_tokens: reply.cachedTokens },
        };
        res.write(chunk({ choices: [], usage }));
      }
      res.end('data: [DONE]\n\n');
    } finally {
      active--;
      events.push(`end ${requestId}`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    received,
    events,
    get maxConcurrent() {
      return maxConcurrent;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function validate(body: unknown, model: string): { status: number; message: string } | undefined {
  if (body === null || typeof body !== 'object') return { status: 400, message: 'body must be a JSON object' };
  const b = body as Record<string, unknown>;
  if (b.model !== model) return { status: 404, message: `The model \`${String(b.model)}\` does not exist.` };
  const prompt = b.prompt;
  const promptOk =
    typeof prompt === 'string' ||
    (Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t) && t >= 0 && t < 151936));
  if (!promptOk) return { status: 400, message: 'prompt must be a string or a non-empty array of token ids' };
  if (!Number.isInteger(b.max_tokens) || (b.max_tokens as number) < 1)
    return { status: 400, message: 'max_tokens must be an integer >= 1' };
  if (b.stream !== true && b.stream_options !== undefined)
    return { status: 400, message: 'Stream options can only be defined when `stream=True`.' };
  if (b.stream !== true) return { status: 400, message: 'this fake only streams' };
  return undefined;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function errorBody(status: number, message: string) {
  return {
    error: {
      message,
      type: status === 404 ? 'NotFoundError' : status >= 500 ? 'InternalServerError' : 'BadRequestError',
      param: null,
      code: status,
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
