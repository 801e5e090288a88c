import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A test-only vLLM OpenAI server, as far as the orchestrator's vllm-http backend uses it,
 * recording every body exactly as received: `POST /v1/chat/completions` and
 * `POST /v1/completions` answering a script (`behaviour.script`: tool calls, logprobs, n choices,
 * as vLLM streams and answers them) or by default `t2000 t2001 ...` (token-id or text prompts; streaming SSE chunks with `token_ids` as vLLM's
 * `return_token_ids` gives them, a usage chunk, `data: [DONE]`; non-streaming JSON with
 * `kv_transfer_params` for NIXL prefills), `GET /health`, `GET /metrics` (current or pre-0.10
 * metric names, per `engine` label), `GET /v1/models`. Output token ids are 2000, 2001, ...
 */
export interface FakeVllmOptions {
  readonly servedModel?: string;
  readonly blockSize?: number;
  /** `current`: vllm:kv_cache_usage_perc; `old`: vllm:gpu_cache_usage_perc. */
  readonly metricNames?: 'current' | 'old';
  /** Data-parallel engines reported in /metrics. */
  readonly engines?: number;
  readonly tokenDelayMs?: number;
  /** `remote_host` a NIXL prefill answers with (vLLM's VLLM_NIXL_SIDE_CHANNEL_HOST); default "localhost". */
  readonly remoteHost?: string;
  /**
   * Serves vLLM's `POST /tokenize` (answering `{count, max_model_len, tokens}`) with these ids for
   * a request body; without it the route is absent (404), as on servers without it.
   */
  readonly tokenize?: (body: Record<string, unknown>) => readonly number[] | Promise<readonly number[]>;
}

export interface FakeVllmBehaviour {
  /** Answer /v1/completions with this HTTP status and an error body. */
  failStatus: number | null;
  /** Stream text without token_ids (a vLLM without return_token_ids). */
  omitTokenIds: boolean;
  /** Send an error event after this many tokens. */
  errorAfterTokens: number | null;
  healthStatus: number;
  cachedTokens: number;
  running: number;
  waiting: number;
  kvUsage: number;
  hang: boolean;
  /**
   * Answers a request with a scripted reply instead of the default `t2000 t2001 ...` (null: never).
   * Return undefined to fall back to the default for that request.
   */
  script: ((path: string, body: Record<string, unknown>) => FakeVllmScript | undefined) | null;
}

/**
 * A scripted answer, sent as vLLM sends it: streamed (`stream: true`), each of `chunks` as one
 * `data:` event, then (with stream_options.include_usage) a `choices: []` chunk with `usage`, then
 * `data: [DONE]`; otherwise `whole` as the JSON body (plus `kv_transfer_params` for a NIXL prefill).
 */
export interface FakeVllmScript {
  readonly chunks: readonly Record<string, unknown>[];
  readonly usage: Record<string, unknown>;
  readonly whole: Record<string, unknown>;
  /** Line end between `data:` lines and events (vLLM: LF); CRLF and CR exercise the reader. */
  readonly lineEnd?: '\n' | '\r\n' | '\r';
}

export interface FakeVllmRequest {
  /** `/v1/completions` or `/v1/chat/completions`. */
  readonly path: string;
  /** The body exactly as received (parsed JSON). */
  readonly body: Record<string, unknown>;
  readonly headers: IncomingMessage['headers'];
  tokensSent: number;
  /** The client closed the connection before the response ended. */
  closedEarly: boolean;
  finished: boolean;
}

export interface FakeVllmServer {
  readonly url: string;
  readonly requests: FakeVllmRequest[];
  /** Bodies of the `POST /tokenize` calls, in order. */
  readonly tokenizeBodies: Record<string, unknown>[];
  /** Distinct connections that carried a completion or chat request (keep-alive reuse keeps this low). */
  generationConnections(): number;
  readonly behaviour: FakeVllmBehaviour;
  /** Resolves when request `index` has ended either way. */
  settled(index: number): Promise<FakeVllmRequest>;
  close(): Promise<void>;
}

export async function startFakeVllmServer(options: FakeVllmOptions = {}): Promise<FakeVllmServer> {
  const served = options.servedModel ?? 'fake/model';
  const behaviour: FakeVllmBehaviour = {
    failStatus: null,
    omitTokenIds: false,
    errorAfterTokens: null,
    healthStatus: 200,
    cachedTokens: 0,
    running: 3,
    waiting: 2,
    kvUsage: 0.25,
    hang: false,
    script: null,
  };
  const requests: FakeVllmRequest[] = [];
  const tokenizeBodies: Record<string, unknown>[] = [];
  const generationSockets = new Set<unknown>();
  const waiters: { index: number; resolve: (r: FakeVllmRequest) => void }[] = [];
  const settle = () => {
    for (const w of [...waiters]) {
      const r = requests[w.index];
      if (r && (r.finished || r.closedEarly)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
  };
  const startedAt = 1_700_000_000.5;

  const server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/health') {
      res.writeHead(behaviour.healthStatus).end();
      return;
    }
    if (req.method === 'GET' && url === '/v1/models') {
      json(res, 200, {
        object: 'list',
        data: [{ id: served, object: 'model', max_model_len: 4096, owned_by: 'vllm' }],
      });
      return;
    }
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metricsText());
      return;
    }
    if (req.method === 'POST' && url === '/tokenize' && options.tokenize) {
      let text = '';
      for await (const piece of req) text += piece;
      const body = JSON.parse(text) as Record<string, unknown>;
      tokenizeBodies.push(body);
      const tokens = await options.tokenize(body);
      json(res, 200, { count: tokens.length, max_model_len: 4096, tokens });
      return;
    }
    if (req.method === 'POST' && (url === '/v1/completions' || url === '/v1/chat/completions')) {
      generationSockets.add(req.socket);
      let text = '';
      for await (const piece of req) text += piece;
      const body = JSON.parse(text) as Record<string, unknown>;
      const record: FakeVllmRequest = {
        path: url,
        body,
        headers: req.headers,
        tokensSent: 0,
        closedEarly: false,
        finished: false,
      };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.closedEarly = true;
        settle();
      });
      const script = behaviour.script?.(url, body);
      if (script) await play(script, body, record, res);
      else await complete(body, record, res);
      return;
    }
    json(res, 404, { error: { message: `no route ${req.method} ${url}`, type: 'NotFoundError', code: 404 } });
  });

  async function complete(body: Record<string, unknown>, record: FakeVllmRequest, res: ServerResponse): Promise<void> {
    if (behaviour.failStatus !== null) {
      json(res, behaviour.failStatus, {
        error: {
          message: `fake vLLM told to answer ${behaviour.failStatus}`,
          type: 'InternalServerError',
          param: null,
          code: behaviour.failStatus,
        },
      });
      return finish(record);
    }
    // A token-id prompt, or text (its characters stand in for tokens).
    const prompt = (body.prompt ?? JSON.stringify(body.messages ?? '')) as number[] | string;
    const maxTokens = (body.max_tokens as number | undefined) ?? 16;
    const usage = {
      prompt_tokens: prompt.length,
      completion_tokens: 0,
      total_tokens: prompt.length,
      prompt_tokens_details: { cached_tokens: behaviour.cachedTokens },
    };
    if (body.stream !== true) {
      const ids = Array.from({ length: maxTokens }, (_, i) => 2000 + i);
      usage.completion_tokens = ids.length;
      const transfer = body.kv_transfer_params as { do_remote_decode?: boolean } | undefined;
      json(res, 200, {
        id: 'cmpl-fake',
        object: 'text_completion',
        model: served,
        choices: [
          {
            index: 0,
            text: ids.map((i) => `t${i}`).join(''),
            token_ids: ids,
            finish_reason: 'length',
            stop_reason: null,
          },
        ],
        usage,
        kv_transfer_params: transfer?.do_remote_decode ? nixlParams() : null,
      });
      return finish(record);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    if (behaviour.hang) return; // the response stays open until the client leaves
    for (let i = 0; i < maxTokens; i++) {
      if (options.tokenDelayMs) await new Promise((r) => setTimeout(r, options.tokenDelayMs));
      if (record.closedEarly) return;
      if (behaviour.errorAfterTokens !== null && i >= behaviour.errorAfterTokens) {
        send({ error: { message: 'fake vLLM engine died', type: 'InternalServerError', code: 500 } });
        res.end('data: [DONE]\n\n');
        return finish(record);
      }
      const id = 2000 + i;
      const last = i === maxTokens - 1;
      record.tokensSent++;
      send({
        id: 'cmpl-fake',
        object: 'text_completion',
        created: 1,
        model: served,
        choices: [
          {
            index: 0,
            text: `t${id}`,
            logprobs: null,
            finish_reason: last ? 'length' : null,
            stop_reason: null,
            ...(behaviour.omitTokenIds ? {} : { token_ids: [id] }),
            ...(i === 0 ? { prompt_token_ids: prompt } : {}),
          },
        ],
        usage: null,
      });
    }
    usage.completion_tokens = record.tokensSent;
    usage.total_tokens = prompt.length + record.tokensSent;
    send({ id: 'cmpl-fake', object: 'text_completion', created: 1, model: served, choices: [], usage });
    res.end('data: [DONE]\n\n');
    finish(record);
  }

  async function play(
    script: FakeVllmScript,
    body: Record<string, unknown>,
    record: FakeVllmRequest,
    res: ServerResponse,
  ): Promise<void> {
    const transfer = body.kv_transfer_params as { do_remote_decode?: boolean } | undefined;
    if (body.stream !== true) {
      json(res, 200, { ...script.whole, ...(transfer?.do_remote_decode ? { kv_transfer_params: nixlParams() } : {}) });
      return finish(record);
    }
    const end = script.lineEnd ?? '\n';
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}${end}${end}`);
    for (const chunk of script.chunks) {
      if (options.tokenDelayMs) await new Promise((r) => setTimeout(r, options.tokenDelayMs));
      if (record.closedEarly) return;
      record.tokensSent++;
      send(chunk);
    }
    const first = script.chunks[0] ?? {};
    if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage)
      send({
        id: first.id,
        object: first.object,
        created: first.created,
        model: first.model,
        choices: [],
        usage: script.usage,
      });
    res.end(`data: [DONE]${end}${end}`);
    finish(record);
  }

  const nixlParams = () => ({
    do_remote_prefill: true,
    do_remote_decode: false,
    remote_block_ids: [[1, 2, 3]],
    remote_engine_id: 'engine-p',
    remote_request_id: 'req-p',
    remote_host: options.remoteHost ?? 'localhost',
    remote_port: 5600,
    tp_size: 1,
  });

  function finish(record: FakeVllmRequest) {
    record.finished = true;
    settle();
  }

  function metricsText(): string {
    const engines = options.engines ?? 1;
    const usageName = options.metricNames === 'old' ? 'vllm:gpu_cache_usage_perc' : 'vllm:kv_cache_usage_perc';
    const lines = [
      '# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.',
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${startedAt}`,
    ];
    for (let e = 0; e < engines; e++) {
      const labels = `engine="${e}",model_name="${served}"`;
      lines.push(`vllm:num_requests_running{${labels}} ${behaviour.running}.0`);
      lines.push(`vllm:num_requests_waiting{${labels}} ${behaviour.waiting}.0`);
      lines.push(`${usageName}{${labels}} ${behaviour.kvUsage}`);
      lines.push(
        `vllm:cache_config_info{block_size="${options.blockSize ?? 16}",cache_dtype="auto",enable_prefix_caching="True",engine="${e}",num_gpu_blocks="1000"} 1.0`,
      );
      lines.push(`vllm:prefix_cache_queries_total{${labels}} 100.0`);
    }
    return `${lines.join('\n')}\n`;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tokenizeBodies,
    generationConnections: () => generationSockets.size,
    requests,
    behaviour,
    settled: (index) => {
      const r = requests[index];
      if (r && (r.finished || r.closedEarly)) return Promise.resolve(r);
      return new Promise((resolve) => waiters.push({ index, resolve }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}
