import { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { ChatMessage } from '../../common/tokenizer/index.ts';

/**
 * vLLM's OpenAI request bodies, the fields this facade honours, checked with zod. As in vLLM,
 * fields it does not know are ignored (vLLM logs and drops them); fields it knows but cannot
 * honour (n > 1, logprobs, echo, ...) are refused with a 400 naming them. Untrusted input: the
 * parser returns a Result, it does not throw.
 */

const intField = z.int({ message: 'must be an integer' });
const nonNegative = intField.min(0, { message: 'must be >= 0' });
const positiveTokens = intField.min(1, { message: 'must be at least 1' });

/** A field that must be absent, null, or a value meaning "off". */
const onlyOff = (off: (value: unknown) => boolean, why: string) =>
  z
    .unknown()
    .refine((value) => value === undefined || value === null || off(value), { message: `is not supported by this worker (${why})` })
    .optional();

const common = {
  model: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish(), continuous_usage_stats: z.boolean().nullish() }).nullish(),
  temperature: z.number().min(0).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: intField.nullish(),
  stop: z.union([z.string(), z.array(z.string())], { message: 'must be a string or a list of strings' }).nullish(),
  stop_token_ids: z.array(nonNegative).nullish(),
  ignore_eos: z.boolean().nullish(),
  min_tokens: nonNegative.nullish(),
  max_tokens: positiveTokens.nullish(),
  skip_special_tokens: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
  /** vLLM >= 0.10.2: answer with the prompt's and the output's token ids. */
  return_token_ids: z.boolean().nullish(),
  /** vLLM's P/D handoff (NIXL); checked field by field in kv-transfer-params.ts. */
  kv_transfer_params: z.record(z.string(), z.unknown(), { message: 'must be an object' }).nullish(),
  n: onlyOff((v) => v === 1, 'n must be 1'),
  logprobs: onlyOff((v) => v === false, 'no logprobs'),
  echo: onlyOff((v) => v === false, 'no echo'),
  best_of: onlyOff((v) => v === 1, 'best_of must be 1'),
};

const completionSchema = z.looseObject({
  ...common,
  prompt: z.unknown(),
  add_special_tokens: z.boolean().nullish(),
});

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const messageSchema = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(contentPart)], { message: 'must be a string or a list of content parts' }).nullish(),
  name: z.string().optional(),
});

const chatSchema = z.looseObject({
  ...common,
  messages: z.array(messageSchema).min(1, { message: 'must hold at least one message' }),
  max_completion_tokens: positiveTokens.nullish(),
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  top_logprobs: onlyOff((v) => v === 0, 'no logprobs'),
});

export type PromptInput =
  | { readonly kind: 'text'; readonly text: string; readonly addSpecialTokens: boolean }
  | { readonly kind: 'tokens'; readonly tokenIds: readonly number[] }
  | { readonly kind: 'chat'; readonly messages: readonly ChatMessage[]; readonly addGenerationPrompt: boolean; readonly continueFinalMessage: boolean; readonly kwargs: Readonly<Record<string, unknown>> };

export interface ParsedRequest {
  readonly endpoint: 'completion' | 'chat';
  /** Undefined: the served model (vLLM's default when `model` is omitted). */
  readonly model: string | undefined;
  readonly prompt: PromptInput;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  /** Undefined: the endpoint's default (16 for completions, the rest of the context for chat). */
  readonly maxTokens: number | undefined;
  readonly temperature: number;
  readonly topP: number;
  readonly seed: number | undefined;
  readonly stop: readonly string[];
  readonly stopTokenIds: readonly number[];
  readonly ignoreEos: boolean;
  readonly minTokens: number;
  readonly skipSpecialTokens: boolean;
  readonly includeStopStrInOutput: boolean;
  readonly returnTokenIds: boolean;
  readonly kvTransferParams: Readonly<Record<string, unknown>> | undefined;
}

export function parseCompletion(body: unknown): Result<ParsedRequest> {
  const parsed = validate(completionSchema, body);
  if (!parsed.ok) return parsed;
  const prompt = parsePrompt(parsed.value.prompt, parsed.value.add_special_tokens ?? true);
  if (!prompt.ok) return prompt;
  return finish('completion', parsed.value, prompt.value, parsed.value.max_tokens);
}

export function parseChat(body: unknown): Result<ParsedRequest> {
  const parsed = validate(chatSchema, body);
  if (!parsed.ok) return parsed;
  const messages: ChatMessage[] = [];
  for (const [index, message] of parsed.value.messages.entries()) {
    let content: string | null = null;
    if (typeof message.content === 'string') content = message.content;
    else if (Array.isArray(message.content)) {
      const texts: string[] = [];
      for (const [i, part] of message.content.entries()) {
        if (part.type !== 'text' || typeof part.text !== 'string') return bad(`messages[${index}].content[${i}]`, `content part type "${part.type}" is not supported (text only)`);
        texts.push(part.text);
      }
      content = texts.join('\n');
    }
    messages.push({ role: message.role, content, ...(message.name === undefined ? {} : { name: message.name }) });
  }
  const continueFinalMessage = parsed.value.continue_final_message ?? false;
  const prompt: PromptInput = {
    kind: 'chat',
    messages,
    addGenerationPrompt: parsed.value.add_generation_prompt ?? !continueFinalMessage,
    continueFinalMessage,
    kwargs: parsed.value.chat_template_kwargs ?? {},
  };
  return finish('chat', parsed.value, prompt, parsed.value.max_completion_tokens ?? parsed.value.max_tokens);
}

type Common = z.output<typeof completionSchema> | z.output<typeof chatSchema>;

function finish(endpoint: 'completion' | 'chat', body: Common, prompt: PromptInput, maxTokens: number | null | undefined): Result<ParsedRequest> {
  if (body.stream_options != null && body.stream !== true) return bad('stream_options', 'Stream options can only be defined when `stream=True`.');
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (stop.some((s) => s === '')) return bad('stop', 'stop strings must not be empty');
  const minTokens = body.min_tokens ?? 0;
  if (maxTokens != null && minTokens > maxTokens) return bad('min_tokens', `min_tokens (${minTokens}) must not exceed max_tokens (${maxTokens})`);
  return ok({
    endpoint,
    model: body.model ?? undefined,
    prompt,
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    continuousUsage: body.stream_options?.continuous_usage_stats ?? false,
    maxTokens: maxTokens ?? undefined,
    // vLLM's default temperature is 1; the simulated engine's tokens do not depend on it.
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? undefined,
    stop,
    stopTokenIds: body.stop_token_ids ?? [],
    ignoreEos: body.ignore_eos ?? false,
    minTokens,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
    returnTokenIds: body.return_token_ids ?? false,
    kvTransferParams: body.kv_transfer_params ?? undefined,
  });
}

/** OpenAI's single-prompt forms: "text", ["text"], [ids...], [[ids...]]. */
function parsePrompt(prompt: unknown, addSpecialTokens: boolean): Result<PromptInput> {
  if (prompt === undefined || prompt === null) return bad('prompt', 'prompt is required');
  let single = prompt;
  if (Array.isArray(prompt) && prompt.length > 0 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
    if (prompt.length > 1) return bad('prompt', 'batched prompts are not supported; send one prompt per request');
    single = prompt[0];
  }
  if (typeof single === 'string') return single === '' ? bad('prompt', 'prompt must not be empty') : ok({ kind: 'text', text: single, addSpecialTokens });
  if (Array.isArray(single)) {
    if (single.length === 0) return bad('prompt', 'prompt must not be empty');
    if (!single.every((id) => Number.isSafeInteger(id) && (id as number) >= 0)) return bad('prompt', 'token ids must be non-negative integers');
    return ok({ kind: 'tokens', tokenIds: single as number[] });
  }
  return bad('prompt', 'prompt must be a string, a list of token ids, or a one-element list of either');
}

function validate<S extends z.ZodType>(schema: S, body: unknown): Result<z.output<S>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return bad('body', 'the request body must be a JSON object');
  const parsed = schema.safeParse(body);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0]!;
  const param = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
  return bad(param || 'body', `${param || 'body'}: ${issue.message}`);
}

function bad(param: string, message: string): Result<never> {
  return fail(new TandemError('invalid_request', message, { param }));
}
