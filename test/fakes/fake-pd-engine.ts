import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A test-only OpenAI-compatible engine that disaggregates the way vLLM's P2pNcclConnector or
 * SGLang's PD mode does, faithful in what the orchestrator can observe and depend on:
 *
 * - **p2p-nccl** (PROTOCOLS.md 3.3): each engine has a `zmq_address` ("127.0.0.1:<kv port>", a
 *   real HTTP listener standing in for its NCCL endpoint). A request whose X-Request-Id is
 *   `___prefill_addr_<P>___decode_addr_<D>_<32 hex>` on the prefill engine computes the prompt's
 *   KV and pushes it to D's address under that id (PUT_ASYNC); on the decode engine it waits
 *   for the KV under that id, and recomputes the prompt when none arrives in time.
 * - **sglang** (PROTOCOLS.md 5.3): the prefill engine runs a bootstrap HTTP server; a request
 *   carrying `bootstrap_host/port/room` is prefilled and its KV registered under the room; the
 *   decode engine asks `http://<bootstrap_host>:<bootstrap_port>/kv/<room>` until it is there
 *   (or fails after `waitMs`) and decodes from it.
 *
 * The "KV" is a 32-bit digest of the prompt, and every output token is a function of the KV the
 * engine decodes from (token i = 3000 + mix(digest, i) % 500): a decode that met the wrong
 * prefill, or none, produces other tokens than aggregated serving of the same prompt. A prefill
 * engine answers one token; a request without PD fields is served aggregated. Token ids stream
 * as `token_ids` per chunk (vLLM's return_token_ids), with a usage chunk and `data: [DONE]`.
 */
export type PdFlavour = 'p2p-nccl' | 'sglang';

export interface FakePdEngineOptions {
  readonly flavour: PdFlavour;
  readonly mode: 'prefill' | 'decode';
  /** How long a decode waits for its KV, ms. Default 3000. */
  readonly waitMs?: number;
}

export interface FakePdRequest {
  readonly body: Record<string, any>;
  readonly headers: IncomingMessage['headers'];
  readonly receivedAtMs: number;
  finishedAtMs: number | null;
  /** The client closed the connection before the response ended. */
  closedEarly: boolean;
  /** Decode: whether it decoded from KV it received (false: recomputed or never got so far). */
  kvReceived: boolean;
  tokens: number[];
}

export interface FakePdBehaviour {
  /** Answer generation requests with this HTTP status. */
  failStatus: number | null;
  /** Wait this long before computing a request, ms. */
  delayMs: number;
}

export interface FakePdEngine {
  readonly url: string;
  /** p2p-nccl: this engine's zmq_address. */
  readonly ncclAddress: string;
  /** sglang prefill: the bootstrap server's port. */
  readonly bootstrapPort: number;
  readonly requests: FakePdRequest[];
  readonly behaviour: FakePdBehaviour;
  close(): Promise<void>;
}

const NCCL_ID = /^___prefill_addr_(.+)___decode_addr_(.+)_([0-9a-f]{32})$/;

/** The KV a prefill computes: a digest of the prompt's ids. */
export function promptDigest(prompt: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const id of prompt) h = Math.imul(h ^ id, 0x01000193) >>> 0;
  return h;
}

/** Output token `i` decoded from `digest`. */
export function tokenFrom(digest: number, i: number): number {
  return 3000 + ((Math.imul(digest ^ Math.imul(i + 1, 0x9e3779b1), 0x85ebca6b) >>> 0) % 500);
}

/** What aggregated serving of `prompt` gives. */
export const expectedTokens = (prompt: readonly number[], maxTokens: number): number[] =>
  Array.from({ length: maxTokens }, (_, i) => tokenFrom(promptDigest(prompt), i));

export async function startFakePdEngine(options: FakePdEngineOptions): Promise<FakePdEngine> {
  const waitMs = options.waitMs ?? 3000;
  const requests: FakePdRequest[] = [];
  const behaviour: FakePdBehaviour = { failStatus: null, delayMs: 0 };
  /** KV received (p2p-nccl decode: by request id) or registered (sglang prefill: by room). */
  const kv = new Map<string, number>();

  // The side listener: the NCCL endpoint (p2p-nccl) or the bootstrap server (sglang).
  const side = createServer(async (req, res) => {
    const match = /^\/kv\/(.+)$/.exec(req.url ?? '');
    if (!match) return void res.writeHead(404).end();
    const key = decodeURIComponent(match[1]!);
    if (req.method === 'PUT') {
      let text = '';
      for await (const piece of req) text += piece;
      kv.set(key, Number(text));
      return void res.writeHead(204).end();
    }
    const digest = kv.get(key);
    if (digest === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(String(digest));
  });
  await listen(side);
  const sidePort = (side.address() as AddressInfo).port;

  const awaitKv = async (
    fetchKv: () => Promise<number | undefined>,
    signal: AbortSignal,
  ): Promise<number | undefined> => {
    const until = Date.now() + waitMs;
    while (Date.now() < until && !signal.aborted) {
      const digest = await fetchKv().catch(() => undefined);
      if (digest !== undefined) return digest;
      await sleep(10);
    }
    return undefined;
  };

  const server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/health') return void res.writeHead(200).end();
    if (req.method === 'GET' && url === '/v1/models')
      return void json(res, 200, { object: 'list', data: [{ id: 'fake/pd', object: 'model', max_model_len: 32768 }] });
    if (req.method === 'GET' && url === '/metrics') {
      return void res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        .end(
          [
            'vllm:num_requests_running{engine="0",model_name="fake/pd"} 0.0',
            'vllm:num_requests_waiting{engine="0",model_name="fake/pd"} 0.0',
            'vllm:kv_cache_usage_perc{engine="0",model_name="fake/pd"} 0.0',
            'vllm:cache_config_info{block_size="16",engine="0"} 1.0',
            '',
          ].join('\n'),
        );
    }
    if (req.method !== 'POST' || url !== '/v1/completions')
      return void json(res, 404, { error: { message: 'no such route' } });
    let text = '';
    for await (const piece of req) text += piece;
    const body = JSON.parse(text) as Record<string, any>;
    const record: FakePdRequest = {
      body,
      headers: req.headers,
      receivedAtMs: Date.now(),
      finishedAtMs: null,
      closedEarly: false,
      kvReceived: false,
      tokens: [],
    };
    requests.push(record);
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        record.closedEarly = true;
        abort.abort();
      }
    });
    if (behaviour.delayMs > 0) await sleep(behaviour.delayMs);
    if (abort.signal.aborted) return;
    if (behaviour.failStatus !== null) {
      record.finishedAtMs = Date.now();
      return void json(res, behaviour.failStatus, {
        error: {
          message: `fake engine told to answer ${behaviour.failStatus}`,
          type: 'InternalServerError',
          code: behaviour.failStatus,
        },
      });
    }
    const prompt = body.prompt as number[];
    const maxTokens = (body.max_tokens as number | undefined) ?? 16;
    let digest = promptDigest(prompt);
    let count = maxTokens;

    if (options.flavour === 'p2p-nccl') {
      const ids = NCCL_ID.exec(String(req.headers['x-request-id'] ?? ''));
      if (ids && options.mode === 'prefill') {
        // PUT_ASYNC: the prompt's KV goes to the decode engine the request id names.
        await fetch(`http://${ids[2]}/kv/${encodeURIComponent(String(req.headers['x-request-id']))}`, {
          method: 'PUT',
          body: String(digest),
        });
        count = 1;
      } else if (ids && options.mode === 'decode') {
        const id = String(req.headers['x-request-id']);
        const received = await awaitKv(async () => kv.get(id), abort.signal);
        if (received !== undefined) {
          digest = received;
          record.kvReceived = true;
        }
      }
    } else if (body.bootstrap_room !== undefined) {
      const room = String(body.bootstrap_room);
      if (options.mode === 'prefill') {
        kv.set(room, digest);
        count = 1;
      } else {
        const at = `http://${body.bootstrap_host}:${body.bootstrap_port}/kv/${room}`;
        const received = await awaitKv(async () => {
          const answer = await fetch(at, { signal: abort.signal });
          return answer.status === 200 ? Number(await answer.text()) : undefined;
        }, abort.signal);
        if (abort.signal.aborted) return;
        if (received === undefined) {
          record.finishedAtMs = Date.now();
          return void json(res, 500, {
            error: { message: `no prefill arrived for bootstrap room ${room}`, type: 'InternalServerError', code: 500 },
          });
        }
        digest = received;
        record.kvReceived = true;
      }
    }
    if (abort.signal.aborted) return;
    const tokens = Array.from({ length: count }, (_, i) => tokenFrom(digest, i));
    record.tokens = tokens;
    const usage = {
      prompt_tokens: prompt.length,
      completion_tokens: tokens.length,
      total_tokens: prompt.length + tokens.length,
      prompt_tokens_details: { cached_tokens: 0 },
    };
    if (body.stream !== true) {
      record.finishedAtMs = Date.now();
      return void json(res, 200, {
        id: 'cmpl-pd',
        object: 'text_completion',
        model: 'fake/pd',
        choices: [{ index: 0, text: '', token_ids: tokens, finish_reason: 'length' }],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const [i, id] of tokens.entries()) {
      if (abort.signal.aborted) return;
      res.write(
        `data: ${JSON.stringify({ id: 'cmpl-pd', object: 'text_completion', choices: [{ index: 0, text: '', token_ids: [id], finish_reason: i === tokens.length - 1 ? 'length' : null }] })}\n\n`,
      );
      await sleep(1);
    }
    res.write(`data: ${JSON.stringify({ id: 'cmpl-pd', object: 'text_completion', choices: [], usage })}\n\n`);
    record.finishedAtMs = Date.now();
    res.end('data: [DONE]\n\n');
  });
  await listen(server);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    ncclAddress: `127.0.0.1:${sidePort}`,
    bootstrapPort: sidePort,
    requests,
    behaviour,
    async close() {
      for (const s of [server, side]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
