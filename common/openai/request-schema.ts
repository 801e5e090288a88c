import { z } from 'zod';
import { MAX_LOGPROBS } from '../sampling.ts';

/**
 * The OpenAI request bodies, as zod schemas, at two strengths:
 *
 * - **wire** (loose): what every server in the tree reads of a body whatever engine runs it:
 *   the model, streaming and usage options, max tokens, the prompt or the messages and what the
 *   chat template renders (tools, documents, template kwargs), `user`, and vLLM's
 *   `return_token_ids` / `kv_transfer_params`. Any other field passes untouched: a body that
 *   goes on to an HTTP engine (vLLM, SGLang) keeps every field it carried.
 * - **token level**: what Tandem's own engines (the token-level path: the gRPC workers, the
 *   workers' HTTP facade) honour, field by field. Fields they know but cannot honour are
 *   refused only when they ask for something other than the default. This table is the one
 *   place to extend when an engine learns a field (and SamplingFields with it).
 */

export interface RequestLimits {
  readonly max_stop_sequences: number;
  readonly max_stop_chars: number;
  readonly max_stop_token_ids: number;
  readonly max_messages: number;
}

/** Limits for servers that set none (the workers' facade): generous, as vLLM's. */
export const NO_REQUEST_LIMITS: RequestLimits = {
  max_stop_sequences: 1024,
  max_stop_chars: 65_536,
  max_stop_token_ids: 65_536,
  max_messages: 1_000_000,
};

const int = z.int({ message: 'must be an integer' });
const positiveTokens = int.min(1, { message: 'must be at least 1' });

/** A content part: `{type: "text", text}`, `{type: "image_url", image_url}`, ... (kept whole). */
const contentPart = z.looseObject({ type: z.string() });

const wireMessage = z.looseObject({
  role: z.string().min(1, { message: 'must not be empty' }),
  content: z
    .union([z.string(), z.array(contentPart)], { message: 'must be a string or a list of content parts' })
    .nullish(),
  name: z.string().optional(),
  tool_calls: z.array(z.unknown()).nullish(),
  tool_call_id: z.string().optional(),
  reasoning_content: z.string().nullish(),
});

function wireFields() {
  return {
    /** Optional: a server with one model serves it (as vLLM does). */
    model: z.string().min(1).nullish(),
    stream: z.boolean().nullish(),
    stream_options: z
      .looseObject({ include_usage: z.boolean().nullish(), continuous_usage_stats: z.boolean().nullish() })
      .nullish(),
    max_tokens: positiveTokens.nullish(),
    user: z.string().max(256).nullish(),
    /** vLLM >= 0.10.2: answer with the prompt's and the output's token ids. */
    return_token_ids: z.boolean().nullish(),
    /** vLLM's P/D handoff (NIXL). */
    kv_transfer_params: z.record(z.string(), z.unknown(), { message: 'must be an object' }).nullish(),
  };
}

export function wireCompletionSchema() {
  return z.looseObject({
    ...wireFields(),
    /** Checked by hand (string, [string], token ids, [[token ids]]) for clearer messages. */
    prompt: z.unknown().optional(),
    add_special_tokens: z.boolean().nullish(),
  });
}

export function wireChatSchema(limits: RequestLimits) {
  return z.looseObject({
    ...wireFields(),
    messages: z
      .array(wireMessage)
      .min(1, { message: 'must hold at least one message' })
      .max(limits.max_messages, { message: `at most ${limits.max_messages} messages` }),
    max_completion_tokens: positiveTokens.nullish(),
    tools: z.array(z.looseObject({ type: z.string() }), { message: 'must be a list of tools' }).nullish(),
    documents: z.array(z.record(z.string(), z.unknown()), { message: 'must be a list of objects' }).nullish(),
    add_generation_prompt: z.boolean().nullish(),
    continue_final_message: z.boolean().nullish(),
    chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  });
}

export type WireCompletionBody = z.output<ReturnType<typeof wireCompletionSchema>>;
export type WireChatBody = z.output<ReturnType<typeof wireChatSchema>>;
export type WireChatMessage = z.output<typeof wireMessage>;
export type ContentPart = z.output<typeof contentPart>;

/** A field that must be absent, null, or its default (`allowed` says which values mean "default"). */
const unsupported = (allowed: (value: unknown) => boolean, what: string) =>
  z
    .unknown()
    .refine((value) => value === null || value === undefined || allowed(value), {
      message: `is not supported (${what})`,
    })
    .optional();

const isFalse = (v: unknown) => v === false;
const isEmptyObject = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
const isEmptyList = (v: unknown) => Array.isArray(v) && v.length === 0;

/** What the token-level path honours of any request, beyond the wire fields. */
function tokenLevelSampling(limits: RequestLimits) {
  return {
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    seed: int.nullish(),
    /** Checked by hand (a string or a list of strings) for clearer messages. */
    stop: z.unknown().optional(),
    stop_token_ids: z
      .array(int.nonnegative())
      .max(limits.max_stop_token_ids, { message: `at most ${limits.max_stop_token_ids} stop token ids` })
      .nullish(),
    ignore_eos: z.boolean().nullish(),
    min_tokens: int.nonnegative().nullish(),
    skip_special_tokens: z.boolean().nullish(),
    include_stop_str_in_output: z.boolean().nullish(),
    spaces_between_special_tokens: z.boolean().nullish(),
    n: unsupported((v) => v === 1, 'n must be 1'),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    repetition_penalty: z.number().gt(0).nullish(),
    logit_bias: unsupported(isEmptyObject, 'logit_bias must be empty'),
    /** -1 and 0 mean every token (vLLM takes both). */
    top_k: int.min(-1).nullish(),
    min_p: z.number().min(0).max(1).nullish(),
    truncate_prompt_tokens: unsupported(() => false, 'no truncation'),
    guided_json: unsupported(() => false, 'no guided decoding'),
    guided_regex: unsupported(() => false, 'no guided decoding'),
    guided_choice: unsupported(() => false, 'no guided decoding'),
    guided_grammar: unsupported(() => false, 'no guided decoding'),
    structured_outputs: unsupported(() => false, 'no structured outputs'),
    response_format: unsupported(
      (v) => (v as { type?: unknown }).type === 'text',
      'response_format must be {"type":"text"}',
    ),
    echo: unsupported(isFalse, 'echo must be false'),
    // Accepted and ignored: they change nothing about the output.
    metadata: z.unknown().optional(),
    store: z.unknown().optional(),
    service_tier: z.unknown().optional(),
    priority: int.nullish(),
  };
}

/** Every field of a completion body the token-level path knows (the wire's and its own). */
export function tokenLevelCompletionFields(limits: RequestLimits) {
  return {
    ...wireFields(),
    ...tokenLevelSampling(limits),
    prompt: z.unknown().optional(),
    add_special_tokens: z.boolean().nullish(),
    /** Alternatives per token to report (vLLM's max_logprobs, 20). */
    logprobs: int
      .min(0)
      .max(MAX_LOGPROBS, { message: `must be at most ${MAX_LOGPROBS}` })
      .nullish(),
    best_of: unsupported((v) => v === 1, 'best_of must be 1'),
    suffix: unsupported((v) => v === '', 'no suffix'),
  };
}

const textOnlyMessage = wireMessage.extend({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: wireMessage.shape.content.superRefine((content, ctx) => {
    if (!Array.isArray(content)) return;
    const at = content.findIndex((part) => part.type !== 'text' || typeof part.text !== 'string');
    if (at >= 0)
      ctx.addIssue({
        code: 'custom',
        path: [at, 'type'],
        message: `is not supported (content part type \`${content[at]!.type}\`: text only)`,
      });
  }),
});

/** Every field of a chat body the token-level path knows (the wire's and its own). */
export function tokenLevelChatFields(limits: RequestLimits) {
  return {
    ...wireChatSchema(limits).shape,
    ...tokenLevelSampling(limits),
    messages: z.array(textOnlyMessage),
    tools: unsupported(isEmptyList, 'no tool calling'),
    tool_choice: unsupported((v) => v === 'none', 'no tool calling'),
    documents: unsupported(isEmptyList, 'no documents'),
    parallel_tool_calls: z.unknown().optional(),
    logprobs: z.boolean().nullish(),
    top_logprobs: int
      .min(0)
      .max(MAX_LOGPROBS, { message: `must be at most ${MAX_LOGPROBS}` })
      .nullish(),
    reasoning_effort: unsupported(() => false, 'no reasoning controls; use chat_template_kwargs'),
    modalities: unsupported((v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', 'text only'),
    audio: unsupported(() => false, 'text only'),
    prediction: unsupported(() => false, 'no predicted outputs'),
    web_search_options: unsupported(() => false, 'no web search'),
  };
}

/** A server's request schemas, built once per limits object (building a zod schema costs far more than parsing with it). */
export interface RequestSchemas {
  readonly wireCompletion: ReturnType<typeof wireCompletionSchema>;
  readonly wireChat: ReturnType<typeof wireChatSchema>;
  /** Token-level fields by endpoint (their keys are the fields the path knows) and the loose object over them. */
  readonly tokenLevel: {
    readonly completion: { readonly fields: Record<string, z.ZodType>; readonly schema: z.ZodType };
    readonly chat: { readonly fields: Record<string, z.ZodType>; readonly schema: z.ZodType };
  };
}

const built = new WeakMap<RequestLimits, RequestSchemas>();

/** The schemas for these limits, built on first use and kept while the limits object lives. */
export function requestSchemas(limits: RequestLimits): RequestSchemas {
  let schemas = built.get(limits);
  if (schemas === undefined) {
    const completion = tokenLevelCompletionFields(limits);
    const chat = tokenLevelChatFields(limits);
    schemas = {
      wireCompletion: wireCompletionSchema(),
      wireChat: wireChatSchema(limits),
      tokenLevel: {
        completion: { fields: completion, schema: z.looseObject(completion) },
        chat: { fields: chat, schema: z.looseObject(chat) },
      },
    };
    built.set(limits, schemas);
  }
  return schemas;
}
