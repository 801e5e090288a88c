import { TandemError } from '../../common/errors.ts';
import { NIXL_PREFILL_PARAMS, readSsePayloads } from '../../common/openai/index.ts';
import type { FinishReason } from '../serving.ts';
import type { BackendChunk, BackendPrefillResult, BackendUsage, GenerateCall } from './backend.ts';
import { type ResponseJson, toFinish, toUsage } from './passthrough.ts';
import { nixlHandoff } from './vllm-address.ts';

/**
 * The vllm-http backend's direct path, for a call without the client's body (direct use of the
 * backend): token ids in, token ids out, through `/v1/completions` with `return_token_ids: true`
 * (vLLM >= 0.10.2); a server that streams text without ids is refused loudly. The path of a call
 * carrying the client's body is passthrough.ts.
 */

/** The `/v1/completions` body for a call's token ids and sampling, `model` being the served name. */
export function tokenCompletionBody(call: GenerateCall, model: string, stream: boolean) {
  return {
    model,
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
  };
}

/**
 * vLLM's NIXL prefill (PROTOCOLS.md 3.1): max_tokens 1, not streamed, no stream_options and no
 * min_tokens (a min above 1 would be refused), do_remote_decode set.
 */
export function tokenPrefillBody(call: GenerateCall, model: string) {
  const { min_tokens: _minTokens, ...rest } = tokenCompletionBody(call, model, false);
  return { ...rest, max_tokens: 1, kv_transfer_params: { ...NIXL_PREFILL_PARAMS } };
}

/**
 * The tokens of a streamed completion: the events of one read of the body make one chunk
 * (everything buffered in one step); the last chunk carries the finish reason and the usage
 * (counted here if the server sent none). A stream that ends without a finish reason, or an
 * error event, throws upstream_error.
 */
export async function* readTokenStream(
  worker: string,
  what: string,
  body: AsyncIterable<Uint8Array | string>,
  promptTokens: number,
): AsyncGenerator<BackendChunk> {
  let finishReason: FinishReason | undefined;
  let usage: BackendUsage | undefined;
  let completionTokens = 0;
  for await (const { values, failure } of readSsePayloads(body, (data) => parseChunk(worker, data))) {
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
    throw new TandemError('upstream_error', `worker ${worker} ended the ${what} stream without a finish_reason`);
  yield { tokenIds: [], finishReason, usage: usage ?? { promptTokens, cachedPromptTokens: 0, completionTokens } };
}

/**
 * A token prefill's answer (to tokenPrefillBody): the first token, a finish reason when that
 * token already ends the request (a stop, or max_tokens <= 1), the usage, and the NIXL handoff
 * for the decode side (its remote host fixed to `workerHost`).
 */
export function readTokenPrefill(
  worker: string,
  workerHost: string,
  call: GenerateCall,
  json: ResponseJson,
): BackendPrefillResult {
  const choice = json.choices?.[0];
  const first = Array.isArray(choice?.token_ids) ? (choice.token_ids as unknown[])[0] : undefined;
  if (typeof first !== 'number')
    throw new TandemError(
      'upstream_error',
      `worker ${worker} prefill returned no token_ids (needs vLLM >= 0.10.2 with return_token_ids)`,
    );
  const finish = toFinish(choice?.finish_reason);
  return {
    firstTokenId: first,
    finishReason: finish === 'stop' || call.sampling.maxTokens <= 1 ? (finish ?? 'length') : null,
    usage: toUsage(json.usage, call.tokenIds.length, 1),
    handoff: nixlHandoff(json.kv_transfer_params, workerHost),
  };
}

interface ParsedChunk {
  readonly tokenIds: readonly number[];
  readonly finishReason: FinishReason | undefined;
  readonly usage: BackendUsage | undefined;
}

/** One streamed completion chunk; errors in the stream (vLLM's `data: {"error": ...}`) throw. */
function parseChunk(worker: string, data: string): ParsedChunk {
  let json: ResponseJson & { error?: unknown };
  try {
    json = JSON.parse(data) as ResponseJson & { error?: unknown };
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
