import type { FinishReason, Usage } from '../serving.ts';

/**
 * OpenAI's response bodies and stream chunks, as OpenAI and vLLM send them: `chat.completion` /
 * `chat.completion.chunk` and `text_completion`, usage with prompt_tokens_details.cached_tokens,
 * and vLLM's `stop_reason` beside finish_reason.
 */

export interface ResponseIdentity {
  readonly kind: 'chat' | 'completion';
  /** `chatcmpl-<request id>` or `cmpl-<request id>`. */
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export function responseIdentity(kind: 'chat' | 'completion', requestId: string, createdUnixS: number, model: string): ResponseIdentity {
  return { kind, id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId}`, created: createdUnixS, model };
}

export function usageBody(usage: Usage): OpenAIUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens },
  };
}

/** vLLM's continuous_usage_stats: counts so far, no cache detail (known only at the end). */
export function runningUsage(promptTokens: number, completionTokens: number): OpenAIUsage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** The whole response of a non-streaming request. */
export function completeBody(who: ResponseIdentity, text: string, finishReason: FinishReason, stopReason: string | number | null, usage: Usage): Record<string, unknown> {
  const choice =
    who.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason, stop_reason: stopReason }
      : { index: 0, text, logprobs: null, finish_reason: finishReason, stop_reason: stopReason };
  return {
    id: who.id,
    object: who.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: who.created,
    model: who.model,
    choices: [choice],
    usage: usageBody(usage),
  };
}

export interface ChunkFields {
  readonly text: string;
  /** Chat only: the first chunk carries the assistant role. */
  readonly role?: 'assistant';
  readonly finishReason?: FinishReason;
  readonly stopReason?: string | number | null;
  /** `null` on every chunk when include_usage is on (as OpenAI does); counts with continuous usage. */
  readonly usage?: OpenAIUsage | null;
}

/** One streamed chunk carrying a choice delta. */
export function chunkBody(who: ResponseIdentity, fields: ChunkFields): Record<string, unknown> {
  const finish = fields.finishReason ?? null;
  let choice: Record<string, unknown>;
  if (who.kind === 'chat') {
    const delta: Record<string, unknown> = {};
    if (fields.role) delta.role = fields.role;
    if (fields.text !== '' || fields.role) delta.content = fields.text;
    choice = { index: 0, delta, logprobs: null, finish_reason: finish };
  } else {
    choice = { index: 0, text: fields.text, logprobs: null, finish_reason: finish };
  }
  if (finish !== null) choice.stop_reason = fields.stopReason ?? null;
  const body: Record<string, unknown> = {
    id: who.id,
    object: who.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: who.created,
    model: who.model,
    choices: [choice],
  };
  if (fields.usage !== undefined) body.usage = fields.usage;
  return body;
}

/** The include_usage chunk: no choices, the request's usage. */
export function usageChunkBody(who: ResponseIdentity, usage: Usage): Record<string, unknown> {
  return {
    id: who.id,
    object: who.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: who.created,
    model: who.model,
    choices: [],
    usage: usageBody(usage),
  };
}
