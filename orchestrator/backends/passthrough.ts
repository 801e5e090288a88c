import { TandemError } from '../../common/errors.ts';
import { errorMessageOfJson, NIXL_PREFILL_PARAMS, readSsePayloads } from '../../common/openai/index.ts';
import type { FinishReason, OpenAIPassThrough } from '../serving.ts';
import type { BackendUsage, BackendChunk } from './backend.ts';

/**
 * The pass-through of an HTTP engine (vLLM, SGLang): the client's body goes to the engine's own
 * endpoint with only what Tandem must add, and the engine's answer comes back as it wrote it.
 * Tandem reads it only for what it measures: tokens (for the first-token time and the load
 * book), the finish reason, the usage (prompt_tokens_details.cached_tokens) and errors. It never
 * re-tokenizes or re-detokenizes, so it needs no `return_token_ids` (vLLM before 0.10.2 works).
 */

/** The engine's endpoint for a request. */
export const pathOf = (openai: OpenAIPassThrough) =>
  openai.endpoint === 'chat' ? '/v1/chat/completions' : '/v1/completions';

/**
 * The body for the engine: the client's, the served `model` set, `extra` merged (a handoff's
 * fields), `omit` removed; streamed as the client asked unless `stream` says otherwise. A
 * streamed body always asks for the usage chunk (Tandem reads it; the client sees it only if it
 * asked, see readPassThroughStream). A non-streamed one carries no stream_options (vLLM refuses them).
 */
export function passThroughBody(
  openai: OpenAIPassThrough,
  model: string,
  options: {
    readonly stream?: boolean;
    readonly extra?: Readonly<Record<string, unknown>> | undefined;
    readonly omit?: readonly string[];
  } = {},
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...openai.body, model, ...options.extra };
  for (const key of options.omit ?? []) delete body[key];
  const stream = options.stream ?? openai.stream;
  body.stream = stream;
  if (stream)
    body.stream_options = {
      ...(body.stream_options as Record<string, unknown> | null | undefined),
      include_usage: true,
    };
  else delete body.stream_options;
  return body;
}

/**
 * vLLM's NIXL prefill of the client's own body (PROTOCOLS.md 3.1): max_tokens 1 (and
 * max_completion_tokens 1 when the client set it), not streamed, no stream_options, no min_tokens,
 * `kv_transfer_params.do_remote_decode` set.
 */
export function nixlPrefillBody(openai: OpenAIPassThrough, model: string): Record<string, unknown> {
  const body = passThroughBody(openai, model, { stream: false, omit: ['min_tokens', 'min_completion_tokens'] });
  body.max_tokens = 1;
  if ('max_completion_tokens' in openai.body) body.max_completion_tokens = 1;
  body.kv_transfer_params = { ...NIXL_PREFILL_PARAMS };
  return body;
}

interface ChoiceJson {
  text?: unknown;
  token_ids?: unknown;
  finish_reason?: unknown;
  delta?: { content?: unknown; reasoning_content?: unknown; tool_calls?: unknown } | null;
  message?: unknown;
}

export interface ResponseJson {
  choices?: ChoiceJson[];
  usage?: UsageJson | null;
  kv_transfer_params?: Record<string, unknown> | null;
}

export interface UsageJson {
  prompt_tokens?: unknown;
  completion_tokens?: unknown;
  prompt_tokens_details?: { cached_tokens?: unknown } | null;
}

/**
 * Completion tokens in one streamed chunk: its choices' `token_ids` when the engine sends them,
 * else one per choice whose delta carries output (content, reasoning, a tool-call fragment): vLLM
 * streams a token per chunk per choice, and the final usage corrects the count.
 */
export function chunkTokens(json: ResponseJson): number {
  let tokens = 0;
  for (const choice of json.choices ?? []) {
    if (Array.isArray(choice.token_ids)) tokens += choice.token_ids.length;
    else if (
      nonEmpty(choice.text) ||
      nonEmpty(choice.delta?.content) ||
      nonEmpty(choice.delta?.reasoning_content) ||
      (Array.isArray(choice.delta?.tool_calls) && choice.delta.tool_calls.length > 0)
    )
      tokens += 1;
  }
  return tokens;
}

const nonEmpty = (value: unknown) => typeof value === 'string' && value !== '';

/** A finish reason as the dispatcher counts it: anything but length and abort (tool_calls, a stop string) ended as `stop`. */
export function toFinish(reason: unknown): FinishReason | undefined {
  if (reason === null || reason === undefined) return undefined;
  if (reason === 'length' || reason === 'abort') return reason;
  if (reason === 'error') throw new TandemError('upstream_error', 'the worker finished the request with an error');
  return 'stop';
}

export function toUsage(
  usage: UsageJson | null | undefined,
  promptTokens: number,
  completionTokens: number,
): BackendUsage {
  const count = (value: unknown, fallback: number) =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
  return {
    promptTokens: count(usage?.prompt_tokens, promptTokens),
    cachedPromptTokens: count(usage?.prompt_tokens_details?.cached_tokens, 0),
    completionTokens: count(usage?.completion_tokens, completionTokens),
  };
}

export function parseJson(worker: string, what: string, text: string): ResponseJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TandemError(
      'upstream_error',
      `worker ${worker} ${what}: answered something that is not JSON: ${text.slice(0, 200)}`,
    );
  }
  const error = errorMessageOfJson(json);
  if (error !== undefined) throw new TandemError('upstream_error', `worker ${worker} failed mid-stream: ${error}`);
  return json as ResponseJson;
}

/**
 * An engine's SSE stream as chunks for the client: every data payload verbatim, in order, but
 * the usage-only chunk Tandem asked for when the client did not (`openai.includeUsage`) and the
 * `[DONE]` (the frontend writes its own). The events of one read of the body make one chunk
 * (their payloads in order, their tokens summed): everything buffered goes in one step. The last
 * chunk carries the finish reason (of the last choice that finished) and the usage. An error
 * event (`data: {"error": ...}`) throws upstream_error.
 */
export async function* readPassThroughStream(
  worker: string,
  what: string,
  body: AsyncIterable<Uint8Array | string>,
  openai: OpenAIPassThrough,
  promptTokens: number,
): AsyncGenerator<BackendChunk> {
  let finishReason: FinishReason | undefined;
  let usage: BackendUsage | undefined;
  let counted = 0;
  const parse = (data: string) => ({ data, json: parseJson(worker, what, data) });
  for await (const { values, failure } of readSsePayloads(body, parse)) {
    const out: string[] = [];
    let tokens = 0;
    for (const { data, json } of values) {
      const isUsageChunk = Array.isArray(json.choices) && json.choices.length === 0 && json.usage != null;
      if (json.usage != null) usage = toUsage(json.usage, promptTokens, counted + tokens);
      for (const choice of json.choices ?? []) finishReason = toFinish(choice.finish_reason) ?? finishReason;
      if (isUsageChunk && !openai.includeUsage) continue;
      tokens += chunkTokens(json);
      out.push(data);
    }
    counted += tokens;
    if (out.length > 0) yield { tokenIds: [], output: { data: out, tokens } };
    if (failure !== undefined) throw failure;
  }
  if (finishReason === undefined)
    throw new TandemError('upstream_error', `worker ${worker} ended the ${what} stream without a finish_reason`);
  yield {
    tokenIds: [],
    finishReason,
    usage: usage ?? { promptTokens, cachedPromptTokens: 0, completionTokens: counted },
  };
}

/** A non-streamed answer: the body verbatim for the client, with its finish reason and usage. */
export function passThroughWhole(worker: string, what: string, text: string, promptTokens: number): BackendChunk {
  const json = parseJson(worker, what, text);
  let finishReason: FinishReason | undefined;
  for (const choice of json.choices ?? []) finishReason = toFinish(choice.finish_reason) ?? finishReason;
  const usage = toUsage(json.usage, promptTokens, 0);
  return {
    tokenIds: [],
    output: { data: [text], tokens: usage.completionTokens },
    finishReason: finishReason ?? 'stop',
    usage,
  };
}
