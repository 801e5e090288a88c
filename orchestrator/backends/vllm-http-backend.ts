import { Pool, type Dispatcher } from 'undici';
import { TandemError, toTandemError } from '../../common/errors.ts';
import type { FinishReason, OpenAIPassThrough } from '../serving.ts';
import type {
  BackendUsage,
  GenerateCall,
  KvHandoffTicket,
  BackendChunk,
  WorkerBackend,
  WorkerStatusReport,
} from './backend.ts';
import { httpError } from './http-errors.ts';
import { parsePrometheusText } from '../../common/prometheus-text.ts';
import { NIXL_PREFILL_PARAMS, readSsePayloads } from '../../common/openai/index.ts';
import { readVllmMetrics } from './vllm-metrics.ts';
import {
  nixlPrefillBody,
  parseJson,
  passThroughBody,
  passThroughWhole,
  pathOf,
  readPassThroughStream,
  toFinish,
  toUsage,
} from './passthrough.ts';

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
 *   `return_token_ids: true` (vLLM >= 0.10.2), text without ids refused loudly.
 * - Cancellation: closing the HTTP request (vLLM aborts a request whose client disconnected).
 * - `GET /health` (200 when the engine is alive), `GET /metrics` (see vllm-metrics.ts),
 *   `GET /v1/models` (served name, max_model_len).
 * - Disaggregation with NixlConnector: prefill with `max_tokens: 1`, not streamed and
 *   `kv_transfer_params.do_remote_decode`, decode with the original body plus the prefill's
 *   `kv_transfer_params`.
 */
export function createVllmHttpBackend(options: VllmHttpBackendOptions): WorkerBackend {
  const base = parseBase(options.name, options.address);
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
  const completionBody = (call: GenerateCall, stream: boolean) => ({
    model: model(call),
    prompt: [...call.tokenIds],
    max_tokens: call.sampling.maxTokens,
    temperature: call.sampling.temperature,
    top_p: call.sampling.topP,
    ...(call.sampling.seed === undefined ? {} : { seed: call.sampling.seed }),
    stop_token_ids: [...call.sampling.stopTokenIds],
    ignore_eos: call.sampling.ignoreEos,
    min_tokens: call.sampling.minTokens,
    return_token_ids: true,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    ...call.extraBody,
  });

  /** A call with the client's body: that body to the engine's own endpoint, its answer back verbatim (passthrough.ts). */
  async function* passThrough(
    call: GenerateCall & { openai: OpenAIPassThrough },
    signal: AbortSignal,
    extra: Record<string, unknown>,
    what: string,
  ): AsyncGenerator<BackendChunk> {
    const body = passThroughBody(call.openai, model(call), { extra: { ...call.extraBody, ...extra } });
    const response = await send('POST', pathOf(call.openai), signal, body, headersFor(call));
    const { openai } = call;
    yield* readResponse(response, signal, what, async function* () {
      if (openai.stream) yield* readPassThroughStream(name, what, response.body, openai, call.tokenIds.length);
      else yield passThroughWhole(name, what, await response.body.text(), call.tokenIds.length);
    });
  }

  /**
   * Reads a worker's response with `read` once its status is OK: a failure is the worker's
   * (upstream_error naming it) unless the caller aborted, and the body is always closed, which
   * closes the request (vLLM aborts the generation of a client that left).
   */
  async function* readResponse(
    response: Awaited<ReturnType<typeof send>>,
    signal: AbortSignal,
    what: string,
    read: () => AsyncGenerator<BackendChunk>,
  ): AsyncGenerator<BackendChunk> {
    try {
      await expectOk(response, what);
      yield* read();
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

  /**
   * A call without the client's body (direct use of the backend): token ids in, token ids out,
   * through /v1/completions with `return_token_ids` (vLLM >= 0.10.2).
   */
  async function* streamCompletion(
    call: GenerateCall,
    signal: AbortSignal,
    extra: Record<string, unknown>,
    what: string,
  ): AsyncGenerator<BackendChunk> {
    if (call.openai) return yield* passThrough({ ...call, openai: call.openai }, signal, extra, what);
    const response = await send(
      'POST',
      '/v1/completions',
      signal,
      { ...completionBody(call, true), ...extra },
      headersFor(call),
    );
    yield* readResponse(response, signal, what, async function* () {
      let finishReason: FinishReason | undefined;
      let usage: BackendUsage | undefined;
      let completionTokens = 0;
      // The events of one read make one chunk (everything buffered in one step).
      for await (const { values, failure } of readSsePayloads(response.body, (data) => parseChunk(name, data))) {
        let tokenIds: number[] | undefined;
        for (const chunk of values) {
          if (chunk.tokenIds.length > 0)
            tokenIds = tokenIds === undefined ? [...chunk.tokenIds] : tokenIds.concat(chunk.tokenIds);
          finishReason = chunk.finishReason ?? finishReason;
          usage = chunk.usage ?? usage;
        }
        if (tokenIds !== undefined) {
          completionTokens += tokenIds.length;
          yield { tokenIds };
        }
        if (failure !== undefined) throw failure;
      }
      if (finishReason === undefined)
        throw new TandemError('upstream_error', `worker ${name} ended the ${what} stream without a finish_reason`);
      yield {
        tokenIds: [],
        finishReason,
        usage: usage ?? { promptTokens: call.tokenIds.length, cachedPromptTokens: 0, completionTokens },
      };
    });
  }

  return {
    kind: 'vllm-http',
    address: base.origin + base.prefix,

    generate: (call, signal) => coalesced(streamCompletion(call, signal, {}, 'completion')),

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
        const params = json.kv_transfer_params;
        return {
          firstTokenId: null,
          finishReason: null,
          usage: toUsage(json.usage, call.tokenIds.length, 1),
          handoff:
            params && typeof params === 'object'
              ? { kind: 'nixl', params: fixRemoteHost(params, base.hostname) }
              : null,
        };
      }
      // vLLM's NIXL prefill (PROTOCOLS.md 3.1): max_tokens 1, not streamed, no stream_options and
      // no min_tokens (a min above 1 would be refused), do_remote_decode set.
      const { min_tokens: _minTokens, ...rest } = completionBody(call, false);
      const body = {
        ...rest,
        max_tokens: 1,
        kv_transfer_params: { ...NIXL_PREFILL_PARAMS },
      };
      const response = await send('POST', '/v1/completions', signal, body, headersFor(call));
      await expectOk(response, 'prefill');
      const json = (await response.body.json().catch((error: unknown) => {
        throw new TandemError('upstream_error', `worker ${name} prefill answered invalid JSON`, { cause: error });
      })) as CompletionJson;
      const choice = json.choices?.[0];
      const first = Array.isArray(choice?.token_ids) ? (choice.token_ids as unknown[])[0] : undefined;
      if (typeof first !== 'number')
        throw new TandemError(
          'upstream_error',
          `worker ${name} prefill returned no token_ids (needs vLLM >= 0.10.2 with return_token_ids)`,
        );
      const finish = toFinish(choice?.finish_reason);
      const params = json.kv_transfer_params;
      return {
        firstTokenId: first,
        finishReason: finish === 'stop' || call.sampling.maxTokens <= 1 ? (finish ?? 'length') : null,
        usage: toUsage(json.usage, call.tokenIds.length, 1),
        handoff:
          params && typeof params === 'object' ? { kind: 'nixl', params: fixRemoteHost(params, base.hostname) } : null,
      };
    },

    decode(call, signal) {
      if (call.handoff.kind !== 'nixl')
        throw new TandemError(
          'invalid_request',
          `worker ${name} (vllm-http) cannot decode from a ${call.handoff.kind} handoff`,
        );
      // vLLM's decode side samples the first token again (the prefill's is not sent back): the stream includes it.
      return coalesced(streamCompletion(call, signal, { kv_transfer_params: call.handoff.params }, 'decode'));
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

interface CompletionJson {
  choices?: { text?: unknown; token_ids?: unknown; finish_reason?: unknown }[];
  usage?: UsageJson | null;
  kv_transfer_params?: Record<string, unknown> | null;
  error?: unknown;
}

interface UsageJson {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
}

interface ParsedChunk {
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason | undefined;
  readonly usage: BackendUsage | undefined;
}

/** One streamed completion chunk; errors in the stream (vLLM's `data: {"error": ...}`) throw. */
function parseChunk(worker: string, data: string): ParsedChunk {
  let json: CompletionJson;
  try {
    json = JSON.parse(data) as CompletionJson;
  } catch {
    throw new TandemError(
      'upstream_error',
      `worker ${worker} streamed a chunk that is not JSON: ${data.slice(0, 200)}`,
    );
  }
  if (json.error !== undefined) {
    const message =
      typeof json.error === 'object' &&
      json.error !== null &&
      typeof (json.error as { message?: unknown }).message === 'string'
        ? (json.error as { message: string }).message
        : JSON.stringify(json.error);
    throw new TandemError('upstream_error', `worker ${worker} failed mid-stream: ${message}`);
  }
  const choice = json.choices?.[0];
  let tokenIds: number[] = [];
  if (choice) {
    if (Array.isArray(choice.token_ids)) {
      if (!choice.token_ids.every((id) => Number.isInteger(id) && id >= 0))
        throw new TandemError('upstream_error', `worker ${worker} streamed token_ids that are not token ids`);
      tokenIds = choice.token_ids as number[];
    } else if (typeof choice.text === 'string' && choice.text !== '') {
      throw new TandemError(
        'upstream_error',
        `worker ${worker} streamed text without token_ids: it must support return_token_ids (vLLM >= 0.10.2)`,
      );
    }
  }
  const usage = json.usage ? toUsage(json.usage, 0, 0) : undefined;
  return { tokenIds, finishReason: toFinish(choice?.finish_reason), usage };
}

/**
 * vLLM reports its NIXL side channel as VLLM_NIXL_SIDE_CHANNEL_HOST, "localhost" unless told
 * otherwise, and a worker bound to every interface may report a wildcard: point either at the
 * worker's host, as production-stack does. Everything else is passed on verbatim.
 */
function fixRemoteHost(params: Record<string, unknown>, workerHost: string): Record<string, unknown> {
  const host = params.remote_host;
  if (typeof host !== 'string') return params;
  if (WILDCARD_HOSTS.has(host) || (isLoopback(host) && !isLoopback(workerHost)))
    return { ...params, remote_host: workerHost };
  return params;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]', '*']);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';
}

function parseBase(worker: string, address: string): { origin: string; prefix: string; hostname: string } {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TandemError('invalid_request', `worker ${worker}: "${address}" is not a URL`, {
      param: 'workers.address',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TandemError(
      'invalid_request',
      `worker ${worker}: a vllm-http address is http(s)://host:port, got "${address}"`,
      { param: 'workers.address' },
    );
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, ''), hostname: url.hostname };
}

/**
 * Marks a stream whose every chunk already holds everything one read of the body delivered
 * (readSseBatches): the dispatcher then adds no merging layer of its own (coalesce.ts), so no
 * timer and no race per chunk.
 */
function coalesced<T extends AsyncIterable<BackendChunk>>(stream: T): T & { readonly coalesced: true } {
  return Object.assign(stream, { coalesced: true as const });
}
