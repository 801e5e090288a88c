import { Pool, type Dispatcher } from 'undici';
import { TandemError, toTandemError } from '../../common/errors.ts';
import { parsePrometheusText } from '../../common/prometheus-text.ts';
import type { OpenAIPassThrough } from '../serving.ts';
import type { GenerateCall, KvHandoffTicket, BackendChunk, WorkerBackend, WorkerStatusReport } from './backend.ts';
import { httpError } from './http-errors.ts';
import {
  nixlPrefillBody,
  parseJson,
  passThroughBody,
  passThroughWhole,
  pathOf,
  readPassThroughStream,
  type ResponseJson,
  toUsage,
} from './passthrough.ts';
import { readTokenPrefill, readTokenStream, tokenCompletionBody, tokenPrefillBody } from './token-completion.ts';
import { nixlHandoff, parseVllmAddress } from './vllm-address.ts';
import { readVllmMetrics } from './vllm-metrics.ts';

export interface VllmHttpBackendOptions {
  readonly name: string;
  /** The server's base URL ("http://host:8000"); a bare "host:port" gets http://. */
  readonly address: string;
  /** Model name to send; default: the first id of the server's /v1/models. */
  readonly servedModelName?: string | undefined;
}

/** vLLM's header pinning a request to one data-parallel rank. */
export const DP_RANK_HEADER = 'x-data-parallel-rank';

/**
 * A vLLM (or SGLang) server through its OpenAI-compatible HTTP API, as a real deployment runs it.
 *
 * - Pass-through (a call carrying the client's request, `call.openai`; passthrough.ts): the
 *   client's body to `/v1/chat/completions` or `/v1/completions` with only the served model,
 *   `stream_options.include_usage` (Tandem reads the usage; the client sees that chunk only if it
 *   asked), the handoff's fields and X-Request-Id added; the engine's answer comes back verbatim,
 *   read for tokens, finish reason, usage (`prompt_tokens_details.cached_tokens`) and errors only.
 *   Tools, structured output, logprobs, n and images work as the engine does them; any vLLM works.
 * - A call without it (direct use of the backend): token ids through `/v1/completions` with
 *   `return_token_ids: true` (vLLM >= 0.10.2), text without ids refused loudly (token-completion.ts).
 * - Cancellation: closing the HTTP request (vLLM aborts a request whose client disconnected).
 * - `GET /health` (200 when the engine is alive), `GET /metrics` (see vllm-metrics.ts),
 *   `GET /v1/models` (served name, max_model_len).
 * - Disaggregation with NixlConnector: prefill with `max_tokens: 1`, not streamed and
 *   `kv_transfer_params.do_remote_decode`, decode with the original body plus the prefill's
 *   `kv_transfer_params`.
 */
export function createVllmHttpBackend(options: VllmHttpBackendOptions): WorkerBackend {
  const base = parseVllmAddress(options.name, options.address);
  const pool = new Pool(base.origin, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  const name = options.name;
  let servedModels: string[] = options.servedModelName ? [options.servedModelName] : [];
  let maxModelLen: number | null = null;

  async function send(
    method: 'GET' | 'POST',
    path: string,
    signal: AbortSignal,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await pool.request({
        method,
        path: base.prefix + path,
        signal,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
      throw new TandemError(
        'unavailable',
        `worker ${name} unreachable (${method} ${path}): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  const expectOk = async (response: Dispatcher.ResponseData, what: string) => {
    if (response.statusCode >= 200 && response.statusCode < 300) return;
    const text = await response.body.text().catch(() => '');
    throw httpError(name, what, response.statusCode, text);
  };
  const model = (call: GenerateCall) => options.servedModelName ?? servedModels[0] ?? call.model;
  const headersFor = (call: GenerateCall): Record<string, string> => ({
    'x-request-id': call.requestId,
    ...(call.dpRank === undefined ? {} : { [DP_RANK_HEADER]: String(call.dpRank) }),
  });
  type Response = Awaited<ReturnType<typeof send>>;

  /**
   * A call with the client's body: that body to the engine's own endpoint, its answer back
   * verbatim (passthrough.ts). A stream is read by readPassThroughStream itself, with no
   * generator of this file's in between (a layer costs promise hops per streamed chunk).
   */
  const passThrough = (
    call: GenerateCall & { openai: OpenAIPassThrough },
    signal: AbortSignal,
    extra: Record<string, unknown>,
    what: string,
  ): AsyncGenerator<BackendChunk> => {
    const { openai } = call;
    return readResponse(
      () =>
        send(
          'POST',
          pathOf(openai),
          signal,
          passThroughBody(openai, model(call), { extra: { ...call.extraBody, ...extra } }),
          headersFor(call),
        ),
      signal,
      what,
      (response) =>
        openai.stream
          ? readPassThroughStream(name, what, response.body, openai, call.tokenIds.length)
          : readWhole(response, what, call.tokenIds.length),
    );
  };

  async function* readWhole(response: Response, what: string, promptTokens: number): AsyncGenerator<BackendChunk> {
    yield passThroughWhole(name, what, await response.body.text(), promptTokens);
  }

  /**
   * Sends the request (`open`, on the first pull: a failure to reach the worker is `send`'s
   * error as it is), then reads the response with `read` once its status is OK: a failure is the
   * worker's (upstream_error naming it) unless the caller aborted, and the body is always
   * closed, which closes the request (vLLM aborts the generation of a client that left).
   */
  async function* readResponse(
    open: () => Promise<Response>,
    signal: AbortSignal,
    what: string,
    read: (response: Response) => AsyncGenerator<BackendChunk>,
  ): AsyncGenerator<BackendChunk> {
    const response = await open();
    try {
      await expectOk(response, what);
      yield* read(response);
    } catch (error) {
      if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
      if (error instanceof TandemError) throw error;
      throw new TandemError('upstream_error', `worker ${name} ${what} stream broke: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
  }

  /** A call's stream: the client's body passed through, or token ids through /v1/completions. */
  const stream = (call: GenerateCall, signal: AbortSignal, extra: Record<string, unknown>, what: string) =>
    call.openai
      ? passThrough({ ...call, openai: call.openai }, signal, extra, what)
      : streamCompletion(call, signal, extra, what);

  /**
   * A call without the client's body (direct use of the backend): token ids in, token ids out,
   * through /v1/completions with `return_token_ids` (vLLM >= 0.10.2).
   */
  const streamCompletion = (
    call: GenerateCall,
    signal: AbortSignal,
    extra: Record<string, unknown>,
    what: string,
  ): AsyncGenerator<BackendChunk> =>
    readResponse(
      () =>
        send(
          'POST',
          '/v1/completions',
          signal,
          { ...tokenCompletionBody(call, model(call), true), ...extra },
          headersFor(call),
        ),
      signal,
      what,
      (response) => readTokenStream(name, what, response.body, call.tokenIds.length),
    );

  return {
    kind: 'vllm-http',
    address: base.origin + base.prefix,

    generate: (call, signal) => coalesced(stream(call, signal, {}, 'completion')),

    async prefill(call, signal) {
      if (call.openai) {
        // The client's own body, as vLLM's proxies prefill it; the decode side streams every token.
        const response = await send(
          'POST',
          pathOf(call.openai),
          signal,
          nixlPrefillBody(call.openai, model(call)),
          headersFor(call),
        );
        await expectOk(response, 'prefill');
        const json = parseJson(name, 'prefill', await response.body.text());
        return {
          firstTokenId: null,
          finishReason: null,
          usage: toUsage(json.usage, call.tokenIds.length, 1),
          handoff: nixlHandoff(json.kv_transfer_params, base.hostname),
        };
      }
      const response = await send(
        'POST',
        '/v1/completions',
        signal,
        tokenPrefillBody(call, model(call)),
        headersFor(call),
      );
      await expectOk(response, 'prefill');
      const json = (await response.body.json().catch((error: unknown) => {
        throw new TandemError('upstream_error', `worker ${name} prefill answered invalid JSON`, { cause: error });
      })) as ResponseJson;
      return readTokenPrefill(name, base.hostname, call, json);
    },

    decode(call, signal) {
      if (call.handoff.kind !== 'nixl')
        throw new TandemError(
          'invalid_request',
          `worker ${name} (vllm-http) cannot decode from a ${call.handoff.kind} handoff`,
        );
      // vLLM's decode side samples the first token again (the prefill's is not sent back): the stream includes it.
      return coalesced(stream(call, signal, { kv_transfer_params: call.handoff.params }, 'decode'));
    },

    async release(ticket: KvHandoffTicket) {
      if (ticket.kind !== 'nixl')
        throw new TandemError('invalid_request', `worker ${name} (vllm-http) cannot release a ${ticket.kind} handoff`);
      // vLLM has no release call: the prefill side frees the blocks when the decode side has
      // pulled them, or after VLLM_NIXL_ABORT_REQUEST_TIMEOUT (480 s by default).
      return { found: false, releasedBlocks: 0 };
    },

    async status(signal) {
      const health = await send('GET', '/health', signal);
      await expectOk(health, 'health check');
      await health.body.dump();
      const warnings: string[] = [];
      if (servedModels.length === 0 || maxModelLen === null) {
        try {
          const models = await send('GET', '/v1/models', signal);
          await expectOk(models, 'model list');
          const listed =
            ((await models.body.json()) as { data?: { id?: unknown; max_model_len?: unknown }[] }).data ?? [];
          const ids = listed.map((m) => m.id).filter((id): id is string => typeof id === 'string');
          if (servedModels.length === 0) servedModels = ids;
          const len = listed[0]?.max_model_len;
          if (typeof len === 'number') maxModelLen = len;
        } catch (error) {
          if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
          warnings.push(`/v1/models: ${(error as Error).message}`);
        }
      }
      let view: ReturnType<typeof readVllmMetrics> | undefined;
      try {
        const metrics = await send('GET', '/metrics', signal);
        await expectOk(metrics, 'metrics');
        const parsed = parsePrometheusText(await metrics.body.text());
        if (!parsed.ok) throw parsed.error;
        view = readVllmMetrics(parsed.value);
        if (view.load.length === 0)
          warnings.push('/metrics has no vllm:num_requests_running / _waiting / kv usage series');
      } catch (error) {
        if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
        warnings.push(`/metrics: ${(error as Error).message}`);
      }
      const report: WorkerStatusReport = {
        engineId: view?.engineId ?? null,
        role: null,
        engineKind: 'vllm',
        gpu: null,
        model: null,
        tp: null,
        blockSize: view?.blockSize ?? null,
        maxModelLen,
        servedModels,
        kvEventEndpoints: [],
        load: view?.load ?? [],
        warnings,
      };
      return report;
    },

    async close() {
      await pool.close();
    },
  };
}

/**
 * Marks a stream whose every chunk already holds everything one read of the body delivered
 * (readSsePayloads): the dispatcher then adds no merging layer of its own (coalesce.ts), so no
 * timer and no race per chunk.
 */
function coalesced<T extends AsyncIterable<BackendChunk>>(stream: T): T & { readonly coalesced: true } {
  return Object.assign(stream, { coalesced: true as const });
}
