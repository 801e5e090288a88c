import type { FinishReason } from '../engine/engine-api.ts';
import type { ResponseUsage } from './run-request.ts';

/**
 * vLLM's response bodies: `text_completion` and `chat.completion` (and their stream chunks),
 * with vLLM's `stop_reason` beside finish_reason, usage with prompt_tokens_details.cached_tokens,
 * and, with return_token_ids, the output's `token_ids` per choice and the prompt's
 * `prompt_token_ids` (per choice for completions, top level for chat; in a stream, on the first
 * chunk only).
 */

export interface ResponseIdentity {
  readonly endpoint: 'completion' | 'chat';
  /** `cmpl-<request id>` or `chatcmpl-<request id>`. */
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

export function usageBody(usage: ResponseUsage): Record<string, unknown> {
  return {
    prompt_tokens: usage.promptTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    completion_tokens: usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
  };
}

/** vLLM's continuous_usage_stats: counts so far. */
export function runningUsage(promptTokens: number, completionTokens: number): Record<string, unknown> {
  return { prompt_tokens: promptTokens, total_tokens: promptTokens + completionTokens, completion_tokens: completionTokens };
}

export interface WholeResponse {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly stopReason: string | number | null;
  readonly usage: ResponseUsage;
  /** Set with return_token_ids. */
  readonly tokenIds?: readonly number[] | undefined;
  readonly promptTokenIds?: readonly number[] | undefined;
  readonly kvTransferParams?: Record<string, unknown> | undefined;
}

export function wholeBody(who: ResponseIdentity, response: WholeResponse): Record<string, unknown> {
  const ids = response.tokenIds === undefined ? {} : { token_ids: response.tokenIds };
  const choice =
    who.endpoint === 'chat'
      ? { index: 0, message: { role: 'assistant', content: response.text, tool_calls: [] }, logprobs: null, finish_reason: response.finishReason, stop_reason: response.stopReason, ...ids }
      : {
          index: 0,
          text: response.text,
          logprobs: null,
          finish_reason: response.finishReason,
          stop_reason: response.stopReason,
          prompt_logprobs: null,
          ...(response.promptTokenIds === undefined ? {} : { prompt_token_ids: response.promptTokenIds }),
          ...ids,
        };
  return {
    id: who.id,
    object: who.endpoint === 'chat' ? 'chat.completion' : 'text_completion',
    created: who.created,
    model: who.model,
    choices: [choice],
    usage: usageBody(response.usage),
    ...(who.endpoint === 'chat' && response.promptTokenIds !== undefined ? { prompt_token_ids: response.promptTokenIds } : {}),
    ...(response.kvTransferParams ? { kv_transfer_params: response.kvTransferParams } : {}),
  };
}

export interface ChunkFields {
  readonly text: string;
  /** Chat's first chunk: the assistant role with empty content. */
  readonly role?: 'assistant';
  readonly tokenIds?: readonly number[] | undefined;
  readonly promptTokenIds?: readonly number[] | undefined;
  readonly finishReason?: FinishReason;
  readonly stopReason?: string | number | null;
  /** Present (null, or the running counts) when include_usage is on. */
  readonly usage?: Record<string, unknown> | null;
  readonly kvTransferParams?: Record<string, unknown> | undefined;
}

export function chunkBody(who: ResponseIdentity, fields: ChunkFields): Record<string, unknown> {
  const finish = fields.finishReason ?? null;
  const ids = fields.tokenIds === undefined ? {} : { token_ids: fields.tokenIds };
  let choice: Record<string, unknown>;
  if (who.endpoint === 'chat') {
    const delta: Record<string, unknown> = fields.role ? { role: fields.role, content: fields.text } : fields.text !== '' ? { content: fields.text } : {};
    choice = { index: 0, delta, logprobs: null, finish_reason: finish, stop_reason: finish === null ? null : (fields.stopReason ?? null), ...ids };
  } else {
    choice = {
      index: 0,
      text: fields.text,
      logprobs: null,
      finish_reason: finish,
      stop_reason: finish === null ? null : (fields.stopReason ?? null),
      ...(fields.promptTokenIds === undefined ? {} : { prompt_token_ids: fields.promptTokenIds }),
      ...ids,
    };
  }
  return {
    id: who.id,
    object: who.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: who.created,
    model: who.model,
    choices: [choice],
    ...(fields.usage === undefined ? {} : { usage: fields.usage }),
    ...(who.endpoint === 'chat' && fields.promptTokenIds !== undefined ? { prompt_token_ids: fields.promptTokenIds } : {}),
    ...(fields.kvTransferParams ? { kv_transfer_params: fields.kvTransferParams } : {}),
  };
}

/** include_usage's last chunk: no choices, the request's usage. */
export function usageChunkBody(who: ResponseIdentity, usage: ResponseUsage): Record<string, unknown> {
  return { id: who.id, object: who.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: who.created, model: who.model, choices: [], usage: usageBody(usage) };
}
