import type { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { ChatMessage } from '../../common/tokenizer/index.ts';
import { chatSchema, completionSchema, type ChatBody, type ChatBodyMessage, type CompletionBody, type RequestLimits } from './request-schema.ts';

/**
 * Validates an untrusted OpenAI body into a ParsedRequest, or a 4xx TandemError whose `param`
 * names the field at fault. Nothing here tokenizes; prepare-request.ts does.
 */

/** What every generation request carries, with OpenAI's and vLLM's defaults applied. */
export interface OutputOptions {
  readonly model: string;
  readonly stream: boolean;
  /** stream_options.include_usage: a final `choices: []` chunk with usage. */
  readonly includeUsage: boolean;
  /** stream_options.continuous_usage_stats (vLLM): usage on every chunk. */
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
  readonly user: string | undefined;
  readonly skipSpecialTokens: boolean;
  readonly includeStopStrInOutput: boolean;
}

export type CompletionPrompt = { readonly text: string } | { readonly tokenIds: readonly number[] };

export type ParsedRequest =
  | { readonly kind: 'completion'; readonly options: OutputOptions; readonly prompt: CompletionPrompt; readonly addSpecialTokens: boolean }
  | {
      readonly kind: 'chat';
      readonly options: OutputOptions;
      readonly messages: readonly ChatMessage[];
      readonly addGenerationPrompt: boolean;
      readonly continueFinalMessage: boolean;
      readonly templateKwargs: Readonly<Record<string, unknown>>;
    };

export interface RequestParsers {
  completion(body: unknown): Result<ParsedRequest>;
  chat(body: unknown): Result<ParsedRequest>;
}

export function createRequestParsers(limits: RequestLimits): RequestParsers {
  const completion = completionSchema(limits);
  const chat = chatSchema(limits);
  return {
    completion(body) {
      const parsed = parseWith(completion, body);
      if (!parsed.ok) return parsed;
      const prompt = parsePrompt(parsed.value.prompt);
      if (!prompt.ok) return prompt;
      const options = outputOptions(parsed.value, parsed.value.max_tokens, limits);
      if (!options.ok) return options;
      return ok({ kind: 'completion', options: options.value, prompt: prompt.value, addSpecialTokens: parsed.value.add_special_tokens ?? true });
    },
    chat(body) {
      const parsed = parseWith(chat, body);
      if (!parsed.ok) return parsed;
      const messages = parsed.value.messages.map((m, i) => chatMessage(m, i));
      const failed = messages.find((m) => !m.ok);
      if (failed && !failed.ok) return failed;
      const options = outputOptions(parsed.value, parsed.value.max_completion_tokens ?? parsed.value.max_tokens, limits);
      if (!options.ok) return options;
      return ok({
        kind: 'chat',
        options: options.value,
        messages: messages.map((m) => (m as { ok: true; value: ChatMessage }).value),
        addGenerationPrompt: parsed.value.add_generation_prompt ?? true, // vLLM's default, also with continue_final_message (then refused)
        continueFinalMessage: parsed.value.continue_final_message ?? false,
        templateKwargs: parsed.value.chat_template_kwargs ?? {},
      });
    },
  };
}

function parseWith<S extends z.ZodType>(schema: S, body: unknown): Result<z.output<S>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return fail(new TandemError('invalid_request', 'the request body must be a JSON object'));
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `\`${k}\``).join(', ');
    return fail(new TandemError('invalid_request', `Unrecognized request argument supplied: ${keys}`, { param: issue.keys[0]! }));
  }
  const param = formatPath(issue.path);
  return fail(new TandemError('invalid_request', `${param || 'body'}: ${issue.message}`, { param }));
}

/** `['messages', 0, 'content']` -> `messages[0].content`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : `${out ? '.' : ''}${String(segment)}`;
  return out;
}

function outputOptions(body: CompletionBody | ChatBody, maxTokens: number | null | undefined, limits: RequestLimits): Result<OutputOptions> {
  if (body.stream_options != null && body.stream !== true) {
    return fail(new TandemError('invalid_request', 'Stream options can only be defined when `stream=True`.', { param: 'stream_options' }));
  }
  const minTokens = body.min_tokens ?? 0;
  if (maxTokens != null && minTokens > maxTokens) {
    return fail(new TandemError('invalid_request', `min_tokens (${minTokens}) must not exceed max_tokens (${maxTokens})`, { param: 'min_tokens' }));
  }
  const stop = parseStop(body.stop, limits);
  if (!stop.ok) return stop;
  return ok({
    model: body.model,
    stream: body.stream ?? false,
    includeUsage: body.stream_options?.include_usage ?? false,
    continuousUsage: body.stream_options?.continuous_usage_stats ?? false,
    maxTokens: maxTokens ?? undefined,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? undefined,
    stop: stop.value,
    stopTokenIds: body.stop_token_ids ?? [],
    ignoreEos: body.ignore_eos ?? false,
    minTokens,
    user: body.user ?? undefined,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
  });
}

/** OpenAI's `stop`: absent, a string, or a list of strings, within the configured limits. */
function parseStop(stop: unknown, limits: RequestLimits): Result<readonly string[]> {
  if (stop === undefined || stop === null) return ok([]);
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list)) return fail(new TandemError('invalid_request', 'stop: must be a string or a list of strings', { param: 'stop' }));
  if (list.length > limits.max_stop_sequences) {
    return fail(new TandemError('invalid_request', `stop: at most ${limits.max_stop_sequences} stop sequences (got ${list.length})`, { param: 'stop' }));
  }
  for (const [i, item] of list.entries()) {
    const param = typeof stop === 'string' ? 'stop' : `stop[${i}]`;
    if (typeof item !== 'string') return fail(new TandemError('invalid_request', `${param}: must be a string`, { param }));
    if (item.length === 0) return fail(new TandemError('invalid_request', `${param}: stop strings must not be empty`, { param }));
    if (item.length > limits.max_stop_chars) return fail(new TandemError('invalid_request', `${param}: stop strings are at most ${limits.max_stop_chars} characters`, { param }));
  }
  return ok(list as string[]);
}

/** OpenAI's prompt forms, one prompt only: "text", ["text"], [ids...], [[ids...]]. */
function parsePrompt(prompt: unknown): Result<CompletionPrompt> {
  const bad = (message: string) => fail(new TandemError('invalid_request', `prompt: ${message}`, { param: 'prompt' }));
  if (prompt === undefined || prompt === null) return bad('is required');
  let single: unknown = prompt;
  if (Array.isArray(prompt) && prompt.length > 0 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
    if (prompt.length > 1) return bad('batched prompts are not supported; send one prompt per request');
    single = prompt[0];
  }
  if (typeof single === 'string') return single.length === 0 ? bad('must not be empty') : ok({ text: single });
  if (Array.isArray(single)) {
    if (single.length === 0) return bad('must not be empty');
    if (!single.every((id) => Number.isSafeInteger(id) && (id as number) >= 0)) return bad('token ids must be non-negative integers');
    return ok({ tokenIds: single as number[] });
  }
  return bad('must be a string, a list of token ids, or a one-element list of either');
}

function chatMessage(message: ChatBodyMessage, index: number): Result<ChatMessage> {
  const param = `messages[${index}].content`;
  let content: string | null;
  if (typeof message.content === 'string') content = message.content;
  else if (Array.isArray(message.content)) {
    const texts: string[] = [];
    for (const [i, part] of message.content.entries()) {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        return fail(new TandemError('invalid_request', `${param}[${i}]: content part type \`${part.type}\` is not supported (text only)`, { param: `${param}[${i}].type` }));
      }
      texts.push(part.text);
    }
    content = texts.join('\n');
  } else content = null;
  if (content === null && !(message.role === 'assistant' && message.tool_calls)) {
    return fail(new TandemError('invalid_request', `${param}: is required for a ${message.role} message`, { param }));
  }
  return ok({
    // OpenAI's newer name for the system role; chat templates know only `system`.
    role: message.role === 'developer' ? 'system' : message.role,
    content,
    ...(message.name === undefined ? {} : { name: message.name }),
    ...(message.tool_calls ? { tool_calls: message.tool_calls } : {}),
    ...(message.tool_call_id === undefined ? {} : { tool_call_id: message.tool_call_id }),
    ...(message.reasoning_content == null ? {} : { reasoning_content: message.reasoning_content }),
  });
}
