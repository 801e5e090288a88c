import type { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import { NO_REQUEST_LIMITS, requestSchemas, type RequestLimits, type WireChatMessage } from './request-schema.ts';
import type { Endpoint } from './shapes.ts';

/**
 * Untrusted OpenAI bodies -> what a server reads of them, as a Result whose error (a 4xx
 * TandemError) has a `param` naming the field. Two steps, matching the two schemas:
 * `parseWireRequest` (every request, whatever engine will run it; the body is kept verbatim)
 * and `readTokenLevel` (the sampling Tandem's own engines honour, or the first field they do
 * not). Nothing here tokenizes.
 */

export type CompletionPrompt = { readonly text: string } | { readonly tokenIds: readonly number[] };

export interface CompletionInput {
  readonly kind: 'completion';
  readonly prompt: CompletionPrompt;
  readonly addSpecialTokens: boolean;
}

/** A chat request's messages and what the chat template renders besides them, named as on the wire. */
export interface ChatInput {
  readonly kind: 'chat';
  /** As sent: content a string, a list of parts (text, image_url, ...), or null. */
  readonly messages: readonly WireChatMessage[];
  readonly tools: readonly Readonly<Record<string, unknown>>[] | undefined;
  readonly documents: readonly Readonly<Record<string, unknown>>[] | undefined;
  readonly chat_template_kwargs: Readonly<Record<string, unknown>>;
  readonly add_generation_prompt: boolean;
  readonly continue_final_message: boolean;
}

export interface WireRequest {
  readonly kind: Endpoint;
  /** The client's body, verbatim (every field, known or not). */
  readonly body: Readonly<Record<string, unknown>>;
  /** Undefined: the served model. */
  readonly model: string | undefined;
  readonly stream: boolean;
  /** stream_options.include_usage: a final `choices: []` chunk with usage. */
  readonly includeUsage: boolean;
  /** stream_options.continuous_usage_stats (vLLM): usage on every chunk. */
  readonly continuousUsage: boolean;
  /** max_completion_tokens, else max_tokens; undefined: the endpoint's default. */
  readonly maxTokens: number | undefined;
  readonly user: string | undefined;
  readonly returnTokenIds: boolean;
  readonly kvTransferParams: Readonly<Record<string, unknown>> | undefined;
  readonly input: CompletionInput | ChatInput;
}

/** The sampling a token-level engine runs, with OpenAI's and vLLM's defaults applied. */
export interface SamplingFields {
  readonly temperature: number;
  readonly topP: number;
  readonly seed: number | undefined;
  readonly stop: readonly string[];
  readonly stopTokenIds: readonly number[];
  readonly ignoreEos: boolean;
  readonly minTokens: number;
  readonly skipSpecialTokens: boolean;
  readonly includeStopStrInOutput: boolean;
  /** 0 = every token (vLLM's -1 is read as 0). */
  readonly topK: number;
  readonly minP: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  readonly repetitionPenalty: number;
  /** Alternatives per token to report with each token's logprob; undefined = no logprobs. */
  readonly logprobs: number | undefined;
}

export function parseWireRequest(
  kind: Endpoint,
  body: unknown,
  limits: RequestLimits = NO_REQUEST_LIMITS,
): Result<WireRequest> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return fail(new TandemError('invalid_request', 'the request body must be a JSON object'));
  const raw = body as Record<string, unknown>;
  let input: CompletionInput | ChatInput;
  let maxTokens: number | null | undefined;
  if (kind === 'completion') {
    const parsed = validate(requestSchemas(limits).wireCompletion, raw);
    if (!parsed.ok) return parsed;
    const prompt = parsePrompt(parsed.value.prompt);
    if (!prompt.ok) return prompt;
    input = { kind, prompt: prompt.value, addSpecialTokens: parsed.value.add_special_tokens ?? true };
    maxTokens = parsed.value.max_tokens;
  } else {
    const parsed = validate(requestSchemas(limits).wireChat, raw);
    if (!parsed.ok) return parsed;
    const v = parsed.value;
    for (const [i, message] of v.messages.entries()) {
      if (message.content == null && !(message.role === 'assistant' && message.tool_calls)) {
        return bad(`messages[${i}].content`, `messages[${i}].content: is required for a ${message.role} message`);
      }
    }
    const continueFinalMessage = v.continue_final_message ?? false;
    input = {
      kind,
      messages: v.messages,
      tools: v.tools ?? undefined,
      documents: v.documents ?? undefined,
      chat_template_kwargs: v.chat_template_kwargs ?? {},
      // vLLM's default, also with continue_final_message (which the renderer then refuses).
      add_generation_prompt: v.add_generation_prompt ?? true,
      continue_final_message: continueFinalMessage,
    };
    maxTokens = v.max_completion_tokens ?? v.max_tokens;
  }
  const so = raw.stream_options as
    | { include_usage?: boolean | null; continuous_usage_stats?: boolean | null }
    | null
    | undefined;
  if (so != null && raw.stream !== true)
    return bad('stream_options', 'Stream options can only be defined when `stream=True`.');
  return ok({
    kind,
    body: raw,
    model: (raw.model as string | null | undefined) ?? undefined,
    stream: raw.stream === true,
    includeUsage: so?.include_usage ?? false,
    continuousUsage: so?.continuous_usage_stats ?? false,
    maxTokens: maxTokens ?? undefined,
    user: (raw.user as string | null | undefined) ?? undefined,
    returnTokenIds: raw.return_token_ids === true,
    kvTransferParams: (raw.kv_transfer_params as Record<string, unknown> | null | undefined) ?? undefined,
    input,
  });
}

export interface TokenLevelOptions {
  /** `refuse`: a field the token-level path does not know is refused (the orchestrator); `ignore`: passed over, as vLLM does (the workers' facade). */
  readonly unknownFields: 'refuse' | 'ignore';
  readonly limits?: RequestLimits;
}

/**
 * Why the token-level path will not run a request: `invalid`, a field it knows holds a value no
 * engine should take (a 400 whatever runs it); `unsupported`, a field (or value) it does not
 * honour although an engine that takes the body as it is may (tools, n > 1, image parts, an
 * unknown field): refused only if a token-level engine is chosen.
 */
export interface TokenLevelRefusal {
  readonly kind: 'invalid' | 'unsupported';
  /** invalid_request; `param` names the field, the message is `<param>: <why>`. */
  readonly error: TandemError;
}

/** Marks the zod issues that mean "not honoured" rather than "not valid". */
const UNSUPPORTED = /^is not supported/;

/** The sampling of a parsed request as the token-level path runs it, or why it will not. */
export function readTokenLevel(
  request: WireRequest,
  options: TokenLevelOptions,
): Result<SamplingFields, TokenLevelRefusal> {
  const limits = options.limits ?? NO_REQUEST_LIMITS;
  const { fields, schema } = requestSchemas(limits).tokenLevel[request.kind];
  const invalid = (r: Result<never>): Result<never, TokenLevelRefusal> =>
    fail({ kind: 'invalid', error: (r as { ok: false; error: TandemError }).error });
  // Known fields checked; unknown ones are refused below or deliberately passed over.
  const parsed = schema.safeParse(request.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const refused = fromIssue(issue) as { ok: false; error: TandemError };
    return fail({ kind: UNSUPPORTED.test(issue.message) ? 'unsupported' : 'invalid', error: refused.error });
  }
  const v = parsed.data as Record<string, unknown>;
  const stop = parseStop(v.stop, limits);
  if (!stop.ok) return invalid(stop);
  const minTokens = (v.min_tokens as number | null | undefined) ?? 0;
  if (request.maxTokens !== undefined && minTokens > request.maxTokens)
    return invalid(bad('min_tokens', `min_tokens (${minTokens}) must not exceed max_tokens (${request.maxTokens})`));
  const logprobs = logprobsOf(request.kind, v);
  if (!logprobs.ok) return invalid(logprobs);
  if (options.unknownFields === 'refuse') {
    const unknown = Object.keys(request.body).find((key) => !(key in fields));
    if (unknown !== undefined)
      return fail({
        kind: 'unsupported',
        error: new TandemError('invalid_request', `${unknown}: is not supported (unknown field)`, { param: unknown }),
      });
  }
  return ok({
    temperature: (v.temperature as number | null | undefined) ?? 1,
    topP: (v.top_p as number | null | undefined) ?? 1,
    seed: (v.seed as number | null | undefined) ?? undefined,
    stop: stop.value,
    stopTokenIds: (v.stop_token_ids as number[] | null | undefined) ?? [],
    ignoreEos: (v.ignore_eos as boolean | null | undefined) ?? false,
    minTokens,
    skipSpecialTokens: (v.skip_special_tokens as boolean | null | undefined) ?? true,
    includeStopStrInOutput: (v.include_stop_str_in_output as boolean | null | undefined) ?? false,
    topK: Math.max(0, (v.top_k as number | null | undefined) ?? 0),
    minP: (v.min_p as number | null | undefined) ?? 0,
    presencePenalty: (v.presence_penalty as number | null | undefined) ?? 0,
    frequencyPenalty: (v.frequency_penalty as number | null | undefined) ?? 0,
    repetitionPenalty: (v.repetition_penalty as number | null | undefined) ?? 1,
    logprobs: logprobs.value,
  });
}

/** Completions: `logprobs` is the number of alternatives. Chat: `logprobs: true`, with `top_logprobs` alternatives. */
function logprobsOf(kind: Endpoint, v: Record<string, unknown>): Result<number | undefined> {
  if (kind === 'completion') return ok((v.logprobs as number | null | undefined) ?? undefined);
  const top = (v.top_logprobs as number | null | undefined) ?? undefined;
  if (v.logprobs !== true)
    return top !== undefined && top > 0
      ? bad('top_logprobs', 'top_logprobs: requires `logprobs: true`')
      : ok(undefined);
  return ok(top ?? 0);
}

/** Defaults of every sampling field (what a request that sets none runs with). */
export const DEFAULT_SAMPLING: SamplingFields = {
  temperature: 1,
  topP: 1,
  seed: undefined,
  stop: [],
  stopTokenIds: [],
  ignoreEos: false,
  minTokens: 0,
  skipSpecialTokens: true,
  includeStopStrInOutput: false,
  topK: 0,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  logprobs: undefined,
};

/** OpenAI's `stop`: absent, a string, or a list of strings, within the limits. */
export function parseStop(stop: unknown, limits: RequestLimits = NO_REQUEST_LIMITS): Result<readonly string[]> {
  if (stop === undefined || stop === null) return ok([]);
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list)) return bad('stop', 'stop: must be a string or a list of strings');
  if (list.length > limits.max_stop_sequences)
    return bad('stop', `stop: at most ${limits.max_stop_sequences} stop sequences (got ${list.length})`);
  for (const [i, item] of list.entries()) {
    const param = typeof stop === 'string' ? 'stop' : `stop[${i}]`;
    if (typeof item !== 'string') return bad(param, `${param}: must be a string`);
    if (item.length === 0) return bad(param, `${param}: stop strings must not be empty`);
    if (item.length > limits.max_stop_chars)
      return bad(param, `${param}: stop strings are at most ${limits.max_stop_chars} characters`);
  }
  return ok(list as string[]);
}

/** OpenAI's prompt forms, one prompt only: "text", ["text"], [ids...], [[ids...]]. */
export function parsePrompt(prompt: unknown): Result<CompletionPrompt> {
  const no = (message: string) => bad('prompt', `prompt: ${message}`);
  if (prompt === undefined || prompt === null) return no('is required');
  let single: unknown = prompt;
  if (Array.isArray(prompt) && prompt.length > 0 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
    if (prompt.length > 1) return no('batched prompts are not supported; send one prompt per request');
    single = prompt[0];
  }
  if (typeof single === 'string') return single.length === 0 ? no('must not be empty') : ok({ text: single });
  if (Array.isArray(single)) {
    if (single.length === 0) return no('must not be empty');
    if (!single.every((id) => Number.isSafeInteger(id) && (id as number) >= 0))
      return no('token ids must be non-negative integers');
    return ok({ tokenIds: single as number[] });
  }
  return no('must be a string, a list of token ids, or a one-element list of either');
}

function validate<S extends z.ZodType>(schema: S, body: unknown): Result<z.output<S>> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return ok(parsed.data);
  return fromIssue(parsed.error.issues[0]!);
}

function fromIssue(issue: z.core.$ZodIssue): Result<never> {
  const param = formatPath(issue.path);
  return bad(param || 'body', `${param || 'body'}: ${issue.message}`);
}

/** `['messages', 0, 'content']` -> `messages[0].content`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path)
    out += typeof segment === 'number' ? `[${segment}]` : `${out ? '.' : ''}${String(segment)}`;
  return out;
}

function bad(param: string, message: string): Result<never> {
  return fail(new TandemError('invalid_request', message, { param }));
}
