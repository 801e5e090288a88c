import { z } from 'zod';

/**
 * The OpenAI request bodies Tandem accepts, field by field, as zod schemas. Unknown fields are
 * refused (as OpenAI does: "Unrecognized request argument supplied"); fields Tandem knows but
 * cannot honour are refused only when they ask for something other than the default, naming
 * the field. vLLM's sampling extensions that the core carries (`stop_token_ids`, `ignore_eos`,
 * `min_tokens`, ...) are accepted.
 */

export interface RequestLimits {
  readonly max_stop_sequences: number;
  readonly max_stop_chars: number;
  readonly max_stop_token_ids: number;
  readonly max_messages: number;
}

/** A field that must be absent, null, or its default (`allowed` says which values mean "default"). */
const unsupported = (allowed: (value: unknown) => boolean, what: string) =>
  z
    .unknown()
    .refine((value) => value === null || allowed(value), { message: `is not supported by Tandem (${what})` })
    .optional();

const isFalse = (v: unknown) => v === false;
const isZero = (v: unknown) => v === 0;
const isEmptyObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

function samplingFields(limits: RequestLimits) {
  return {
    model: z.string().min(1),
    stream: z.boolean().nullish(),
    stream_options: z
      .strictObject({
        include_usage: z.boolean().nullish(),
        continuous_usage_stats: z.boolean().nullish(),
      })
      .nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    seed: z.int().nullish(),
    /** Checked by hand (a string or a list of strings) for clearer messages; see parse-request.ts. */
    stop: z.unknown().optional(),
    stop_token_ids: z.array(z.int().nonnegative()).max(limits.max_stop_token_ids, { message: `at most ${limits.max_stop_token_ids} stop token ids` }).nullish(),
    ignore_eos: z.boolean().nullish(),
    min_tokens: z.int().nonnegative().nullish(),
    user: z.string().max(256).nullish(),
    skip_special_tokens: z.boolean().nullish(),
    include_stop_str_in_output: z.boolean().nullish(),
    spaces_between_special_tokens: z.boolean().nullish(),
    n: unsupported((v) => v === 1, 'n must be 1'),
    presence_penalty: unsupported(isZero, 'penalties must be 0'),
    frequency_penalty: unsupported(isZero, 'penalties must be 0'),
    repetition_penalty: unsupported((v) => v === 1, 'repetition_penalty must be 1'),
    logit_bias: unsupported(isEmptyObject, 'logit_bias must be empty'),
    top_k: unsupported((v) => v === -1 || v === 0, 'top_k must be -1 or 0'),
    min_p: unsupported(isZero, 'min_p must be 0'),
    truncate_prompt_tokens: unsupported(() => false, 'no truncation'),
    guided_json: unsupported(() => false, 'no guided decoding'),
    guided_regex: unsupported(() => false, 'no guided decoding'),
    guided_choice: unsupported(() => false, 'no guided decoding'),
    response_format: unsupported((v) => (v as { type?: unknown }).type === 'text', 'response_format must be {"type":"text"}'),
    // Accepted and ignored: they change nothing about the output.
    metadata: z.unknown().optional(),
    store: z.unknown().optional(),
    service_tier: z.unknown().optional(),
    priority: z.int().nullish(),
  };
}

export function completionSchema(limits: RequestLimits) {
  return z.strictObject({
    ...samplingFields(limits),
    /** Checked by hand (string, [string], token ids, [[token ids]]) for clearer messages. */
    prompt: z.unknown().optional(),
    max_tokens: z.int().min(1).nullish(),
    echo: unsupported(isFalse, 'echo must be false'),
    logprobs: unsupported(() => false, 'no logprobs'),
    best_of: unsupported((v) => v === 1, 'best_of must be 1'),
    suffix: unsupported((v) => v === '', 'no suffix'),
    add_special_tokens: z.boolean().nullish(),
  });
}

const textPart = z.looseObject({ type: z.string(), text: z.string().optional() });

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPart)], { message: 'must be a string or a list of content parts' }).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(z.unknown()).nullish(),
  tool_call_id: z.string().optional(),
  reasoning_content: z.string().nullish(),
});

export function chatSchema(limits: RequestLimits) {
  return z.strictObject({
    ...samplingFields(limits),
    messages: z.array(message).min(1, { message: 'must hold at least one message' }).max(limits.max_messages, { message: `at most ${limits.max_messages} messages` }),
    max_tokens: z.int().min(1).nullish(),
    max_completion_tokens: z.int().min(1).nullish(),
    add_generation_prompt: z.boolean().nullish(),
    continue_final_message: z.boolean().nullish(),
    chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
    echo: unsupported(isFalse, 'echo must be false'),
    logprobs: unsupported(isFalse, 'no logprobs'),
    top_logprobs: unsupported(isZero, 'no logprobs'),
    tools: unsupported((v) => Array.isArray(v) && v.length === 0, 'no tool calling yet'),
    tool_choice: unsupported((v) => v === 'none', 'no tool calling yet'),
    parallel_tool_calls: z.unknown().optional(),
    reasoning_effort: unsupported(() => false, 'no reasoning controls; use chat_template_kwargs'),
    modalities: unsupported((v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', 'text only'),
    audio: unsupported(() => false, 'text only'),
    prediction: unsupported(() => false, 'no predicted outputs'),
    web_search_options: unsupported(() => false, 'no web search'),
  });
}

export type CompletionBody = z.output<ReturnType<typeof completionSchema>>;
export type ChatBody = z.output<ReturnType<typeof chatSchema>>;
export type ChatBodyMessage = z.output<typeof message>;
