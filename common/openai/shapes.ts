/**
 * OpenAI's response bodies and stream chunks as vLLM writes them, for every server in the tree
 * that writes them itself (the orchestrator's token-level path, the workers' HTTP facade):
 * `chat.completion` / `chat.completion.chunk` and `text_completion`, usage with
 * prompt_tokens_details.cached_tokens, vLLM's `stop_reason` beside finish_reason (on every
 * completion choice; on a chat chunk only once it finishes, as vLLM's exclude_unset leaves it),
 * and, when asked for (`return_token_ids`), the output's `token_ids` per choice and the prompt's
 * `prompt_token_ids` (per choice for completions, top level for chat). Responses passed through
 * from an HTTP engine are never rebuilt here: they go to the client as the engine wrote them.
 */

export type Endpoint = 'chat' | 'completion';

export interface ResponseIdentity {
  readonly kind: Endpoint;
  /** `chatcmpl-<request id>` or `cmpl-<request id>`. */
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

/** Token counts of one request, as the usage block reports them. */
export interface TokenUsage {
  readonly promptTokens: number;
  /** Prompt tokens served from a prefix cache (prompt_tokens_details.cached_tokens). */
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

/** Why a choice ended: 'stop', 'length', 'abort', and from engines also 'tool_calls', ... */
export type FinishReasonText = string;

/** One generated token's logprob (natural log) with its text, and the best alternatives', best first. */
export interface TokenLogprobText {
  readonly token: string;
  readonly logprob: number;
  readonly top: readonly { readonly token: string; readonly logprob: number }[];
}

/** Logprobs of a run of a choice's tokens; `textOffset` is where the first one's text starts in the choice's text (completions' text_offset). */
export interface LogprobsRun {
  readonly entries: readonly TokenLogprobText[];
  readonly textOffset: number;
}

/** vLLM writes -inf (a masked token) as -9999.0, which JSON can carry. */
const finite = (logprob: number) => (logprob === -Infinity ? -9999 : logprob);
const bytesOf = (text: string) => [...Buffer.from(text, 'utf8')];

/**
 * A choice's `logprobs` as vLLM writes them. Chat: `{content: [{token, logprob, bytes,
 * top_logprobs: [{token, logprob, bytes}]}]}`. Completions: `{text_offset, token_logprobs,
 * tokens, top_logprobs: [{token: logprob}]}`.
 */
export function logprobsBody(kind: Endpoint, run: LogprobsRun): Record<string, unknown> {
  if (kind === 'chat') {
    return {
      content: run.entries.map((e) => ({
        token: e.token,
        logprob: finite(e.logprob),
        bytes: bytesOf(e.token),
        top_logprobs: e.top.map((t) => ({ token: t.token, logprob: finite(t.logprob), bytes: bytesOf(t.token) })),
      })),
    };
  }
  const textOffset: number[] = [];
  let offset = run.textOffset;
  for (const e of run.entries) {
    textOffset.push(offset);
    offset += e.token.length;
  }
  return {
    text_offset: textOffset,
    token_logprobs: run.entries.map((e) => finite(e.logprob)),
    tokens: run.entries.map((e) => e.token),
    top_logprobs: run.entries.map((e) => Object.fromEntries(e.top.map((t) => [t.token, finite(t.logprob)]))),
  };
}

export function responseIdentity(
  kind: Endpoint,
  requestId: string,
  createdUnixS: number,
  model: string,
): ResponseIdentity {
  return { kind, id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId}`, created: createdUnixS, model };
}

const objectOf = (who: ResponseIdentity, chunk: boolean) =>
  who.kind === 'chat' ? (chunk ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';

export function usageBody(usage: TokenUsage): OpenAIUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens },
  };
}

/** vLLM's continuous_usage_stats: counts so far, no cache detail (known only at the end). */
export function runningUsage(promptTokens: number, completionTokens: number): OpenAIUsage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

export interface WholeResponse {
  readonly text: string;
  readonly finishReason: FinishReasonText;
  /** The stop string or stop token id that ended it, else null. */
  readonly stopReason: string | number | null;
  readonly usage: TokenUsage;
  /** With return_token_ids. */
  readonly tokenIds?: readonly number[] | undefined;
  readonly promptTokenIds?: readonly number[] | undefined;
  /** vLLM's P/D handoff, top level (a NIXL prefill's answer). */
  readonly kvTransferParams?: Readonly<Record<string, unknown>> | undefined;
  /** Every token's logprobs, when the request asked for them. */
  readonly logprobs?: readonly TokenLogprobText[] | undefined;
}

/** The whole response of a non-streaming request. */
export function completeBody(who: ResponseIdentity, response: WholeResponse): Record<string, unknown> {
  const ids = response.tokenIds === undefined ? {} : { token_ids: response.tokenIds };
  const logprobs =
    response.logprobs === undefined ? null : logprobsBody(who.kind, { entries: response.logprobs, textOffset: 0 });
  const choice =
    who.kind === 'chat'
      ? {
          index: 0,
          message: { role: 'assistant', content: response.text, tool_calls: [] },
          logprobs,
          finish_reason: response.finishReason,
          stop_reason: response.stopReason,
          ...ids,
        }
      : {
          index: 0,
          text: response.text,
          logprobs,
          finish_reason: response.finishReason,
          stop_reason: response.stopReason,
          // vLLM writes it on every whole completion choice (null unless prompt_logprobs was asked).
          prompt_logprobs: null,
          ...(response.promptTokenIds === undefined ? {} : { prompt_token_ids: response.promptTokenIds }),
          ...ids,
        };
  return {
    id: who.id,
    object: objectOf(who, false),
    created: who.created,
    model: who.model,
    choices: [choice],
    usage: usageBody(response.usage),
    ...(who.kind === 'chat' && response.promptTokenIds !== undefined
      ? { prompt_token_ids: response.promptTokenIds }
      : {}),
    ...(response.kvTransferParams ? { kv_transfer_params: response.kvTransferParams } : {}),
  };
}

export interface ChunkFields {
  readonly text: string;
  /** Chat only: the first chunk carries the assistant role (with empty content). */
  readonly role?: 'assistant';
  readonly finishReason?: FinishReasonText;
  readonly stopReason?: string | number | null;
  /** `null` on every chunk when include_usage is on (as OpenAI does); counts with continuous usage. */
  readonly usage?: OpenAIUsage | null;
  /** With return_token_ids: the ids sampled since the previous chunk. */
  readonly tokenIds?: readonly number[] | undefined;
  /** With return_token_ids, on the first chunk only. */
  readonly promptTokenIds?: readonly number[] | undefined;
  readonly kvTransferParams?: Readonly<Record<string, unknown>> | undefined;
  /** The logprobs of this chunk's tokens, when the request asked for them. */
  readonly logprobs?: LogprobsRun | undefined;
}

/** One streamed chunk carrying a choice delta. */
export function chunkBody(who: ResponseIdentity, fields: ChunkFields): Record<string, unknown> {
  const finish = fields.finishReason ?? null;
  const ids = fields.tokenIds === undefined ? {} : { token_ids: fields.tokenIds };
  const logprobs = fields.logprobs === undefined ? null : logprobsBody(who.kind, fields.logprobs);
  let choice: Record<string, unknown>;
  if (who.kind === 'chat') {
    const delta: Record<string, unknown> = {};
    if (fields.role) delta.role = fields.role;
    if (fields.text !== '' || fields.role) delta.content = fields.text;
    choice = { index: 0, delta, logprobs, finish_reason: finish };
    if (finish !== null) choice.stop_reason = fields.stopReason ?? null;
    Object.assign(choice, ids);
  } else {
    choice = {
      index: 0,
      text: fields.text,
      logprobs,
      finish_reason: finish,
      stop_reason: finish === null ? null : (fields.stopReason ?? null),
      ...(fields.promptTokenIds === undefined ? {} : { prompt_token_ids: fields.promptTokenIds }),
      ...ids,
    };
  }
  const body: Record<string, unknown> = {
    id: who.id,
    object: objectOf(who, true),
    created: who.created,
    model: who.model,
    choices: [choice],
  };
  if (fields.usage !== undefined) body.usage = fields.usage;
  if (who.kind === 'chat' && fields.promptTokenIds !== undefined) body.prompt_token_ids = fields.promptTokenIds;
  if (fields.kvTransferParams) body.kv_transfer_params = fields.kvTransferParams;
  return body;
}

/** The include_usage chunk: no choices, the request's usage. */
export function usageChunkBody(who: ResponseIdentity, usage: TokenUsage): Record<string, unknown> {
  return {
    id: who.id,
    object: objectOf(who, true),
    created: who.created,
    model: who.model,
    choices: [],
    usage: usageBody(usage),
  };
}

/**
 * The `kv_transfer_params` of a NIXL prefill request, as vLLM's toy proxy sends them (PROTOCOLS.md
 * 3.1): compute the prompt, hold its blocks for a remote decode, and answer with the params the
 * decode side pulls them with. Copy it into a body (`{ ...NIXL_PREFILL_PARAMS }`).
 */
export const NIXL_PREFILL_PARAMS = Object.freeze({
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
});
