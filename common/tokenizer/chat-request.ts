import { fail, ok, TandemError, type Result } from '../errors.ts';

/**
 * A chat request as the chat template sees it, turned from the OpenAI/vLLM wire shape exactly as
 * vLLM does before it applies the template (vllm/entrypoints/chat_utils.py: parse_chat_messages,
 * _parse_chat_message_content, _postprocess_messages; tools through pydantic's model_dump):
 *
 * - content: a string, or a list of parts. Text parts (`text`, `input_text`, `output_text`;
 *   `refusal` and `thinking` by their own field; a bare string) are kept; a text part whose text
 *   is null is skipped. With the "string" content format (the template prints
 *   `message.content`) they are joined with "\n"; with the "openai" format (the template loops
 *   over `message.content`) they stay a list of `{type: "text", text}`. null content is "" (string
 *   format) or [] (openai format).
 * - media parts (image_url, input_image, audio_url, input_audio, video_url, *_embeds, ...) do not
 *   fail the request: they are passed through to the engine, which expands them. vLLM puts their
 *   placeholders in front of the message's text (string format) or where the part is (openai
 *   format); the first one is marked in the rendered text so that routing uses the prefix before it.
 * - assistant: tool_calls kept (an empty list dropped), each call's `function.arguments` parsed
 *   from its JSON string into an object ({} when it is not valid JSON), as transformers' templates
 *   expect; `reasoning` given as both `reasoning` and `reasoning_content`.
 * - tool: tool_call_id kept; a developer message gets `tools` (null when absent); `name` and
 *   `task` kept when they are strings. Roles are not renamed.
 * - tools: `{type, function: {name, description, parameters, ...extra}, ...extra}` with null for a
 *   missing description or parameters, in that key order (what vLLM's model_dump hands the template).
 *
 * Nothing here mutates the request: the client's body goes to the engine as it came.
 */

/** One content part on the wire: a string or an object with a `type`. */
export type WireContentPart = string | { readonly type?: unknown; readonly [key: string]: unknown };

/** One chat message as the template reads it off the wire (OpenAI's fields and vLLM's extensions; others ignored). */
export interface TemplateChatMessage {
  readonly role: string;
  readonly content?: string | readonly WireContentPart[] | null | undefined;
  readonly name?: unknown;
  readonly tool_calls?: unknown;
  readonly tool_call_id?: unknown;
  readonly reasoning?: unknown;
  readonly tools?: unknown;
  readonly task?: unknown;
  readonly [key: string]: unknown;
}

/**
 * The request fields that decide the prompt, with their wire names, so that a parsed OpenAI chat
 * request can be handed over as it is. Absent fields take vLLM's defaults.
 */
export interface ChatPromptRequest {
  readonly messages: readonly TemplateChatMessage[];
  readonly tools?: readonly unknown[] | null | undefined;
  readonly documents?: readonly unknown[] | null | undefined;
  /** Default true. */
  readonly add_generation_prompt?: boolean | null | undefined;
  /** Default false; true with add_generation_prompt true is refused, as vLLM does. */
  readonly continue_final_message?: boolean | null | undefined;
  /** Extra template variables (e.g. `enable_thinking`); may override the four fields above. */
  readonly chat_template_kwargs?: Readonly<Record<string, unknown>> | null | undefined;
}

/** How the template reads `message.content` (vLLM's chat-template content format). */
export type ContentFormat = 'string' | 'openai';

/** A message as the template sees it. */
export type TemplateMessage = Record<string, unknown>;

export interface Conversation {
  readonly messages: TemplateMessage[];
  /** Whether a media part was replaced by `mediaMark` (the prompt is routable only up to it). */
  readonly hasMedia: boolean;
}

const TEXT_FIELD: Readonly<Record<string, string>> = {
  text: 'text',
  input_text: 'text',
  output_text: 'text',
  refusal: 'refusal',
  thinking: 'thinking',
};
const MEDIA_TYPES = new Set([
  'image_url',
  'input_image',
  'image_embeds',
  'audio_embeds',
  'prompt_embeds',
  'image_pil',
  'audio_url',
  'input_audio',
  'video_url',
]);
/** Keys that make a part without `type` a media part (vLLM's untyped shorthand). */
const MEDIA_KEYS = [
  'image_url',
  'image_pil',
  'image_embeds',
  'audio_embeds',
  'prompt_embeds',
  'audio_url',
  'input_audio',
  'video_url',
];

type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'media' }
  | { readonly kind: 'tool_reference'; readonly name: string };

/**
 * The template's messages for `messages`. Only the first media part matters to routing: it and
 * everything after it in the same message are replaced by `mediaMark` (later parts are never
 * routed on), later messages are kept whole so the template decides as it would for the engine.
 */
export function toConversation(
  messages: readonly TemplateChatMessage[],
  format: ContentFormat,
  mediaMark: string,
): Result<Conversation> {
  const out: TemplateMessage[] = [];
  let hasMedia = false;
  for (const [index, message] of messages.entries()) {
    const parts = contentParts(message.content, `messages[${index}].content`);
    if (!parts.ok) return parts;
    let content: unknown;
    const firstMedia = hasMedia ? -1 : parts.value.findIndex((p) => p.kind === 'media');
    if (firstMedia >= 0) hasMedia = true;
    const kept = firstMedia >= 0 ? parts.value.slice(0, firstMedia) : parts.value.filter((p) => p.kind !== 'media');
    if (format === 'string') {
      const texts = kept.map((p) => (p.kind === 'text' ? p.text : p.kind === 'tool_reference' ? p.name : ''));
      // vLLM puts media placeholders before the message's text: the engine's prompt differs from here on.
      content = firstMedia >= 0 ? [mediaMark, ...texts].join('\n') : texts.join('\n');
    } else {
      const list: Record<string, unknown>[] = kept.map((p) =>
        p.kind === 'text'
          ? { type: 'text', text: p.text }
          : p.kind === 'tool_reference'
            ? { type: 'tool_reference', name: p.name }
            : { type: 'text', text: '' },
      );
      if (firstMedia >= 0) list.push({ type: 'text', text: mediaMark });
      content = list;
    }
    const result: TemplateMessage = { role: message.role, content };
    if (message.role === 'assistant') {
      if (message.tool_calls !== undefined && message.tool_calls !== null) {
        const calls = toolCalls(message.tool_calls, index);
        if (!calls.ok) return calls;
        if (calls.value.length > 0) result.tool_calls = calls.value;
      }
      if (message.reasoning !== undefined && message.reasoning !== null) {
        result.reasoning = message.reasoning;
        result.reasoning_content = message.reasoning;
      }
    } else if (message.role === 'tool') {
      if ('tool_call_id' in message) result.tool_call_id = message.tool_call_id;
      if (Array.isArray(content) && content.every((item: { type?: unknown }) => item.type === 'text')) {
        result.content = (content as { text: string }[]).map((item) => item.text).join('\n');
      }
    }
    if (typeof message.name === 'string') result.name = message.name;
    if (typeof message.task === 'string') result.task = message.task;
    if (message.role === 'developer') result.tools = message.tools ?? null;
    out.push(result);
  }
  return ok({ messages: out, hasMedia });
}

function contentParts(content: unknown, param: string): Result<Part[]> {
  if (content === undefined || content === null) return ok([]);
  if (typeof content === 'string') return ok([{ kind: 'text', text: content }]);
  if (!Array.isArray(content)) return bad(param, 'must be a string or a list of content parts');
  const parts: Part[] = [];
  for (const [i, part] of (content as unknown[]).entries()) {
    if (typeof part === 'string') {
      parts.push({ kind: 'text', text: part });
      continue;
    }
    if (part === null || typeof part !== 'object')
      return bad(`${param}[${i}]`, 'a content part must be a string or an object');
    const record = part as Record<string, unknown>;
    const type = record.type;
    if (type === undefined || type === null) {
      if (MEDIA_KEYS.some((key) => key in record)) parts.push({ kind: 'media' });
      else if ('tool_reference' in record) parts.push({ kind: 'tool_reference', name: String(record.tool_reference) });
      else return bad(`${param}[${i}]`, "Missing 'type' field in multimodal part.");
      continue;
    }
    if (typeof type !== 'string') return bad(`${param}[${i}].type`, "Invalid 'type' field in multimodal part.");
    const field = TEXT_FIELD[type];
    if (field !== undefined) {
      const text = record[field];
      if (text === undefined || text === null) continue; // vLLM skips a text part without text
      if (typeof text !== 'string') return bad(`${param}[${i}].${field}`, 'must be a string');
      parts.push({ kind: 'text', text });
    } else if (type === 'tool_reference') {
      parts.push({ kind: 'tool_reference', name: String(record.name ?? '') });
    } else if (MEDIA_TYPES.has(type)) {
      parts.push({ kind: 'media' });
    } else {
      return bad(
        `${param}[${i}].type`,
        `Unsupported chat content part type: '${type}'. Supported types: ${[...Object.keys(TEXT_FIELD), 'tool_reference', ...MEDIA_TYPES].sort().join(', ')}.`,
      );
    }
  }
  return ok(parts);
}

/** Tool calls with `function.arguments` parsed from JSON (copies; the request stays untouched). */
function toolCalls(value: unknown, index: number): Result<unknown[]> {
  const param = `messages[${index}].tool_calls`;
  if (!Array.isArray(value)) return bad(param, 'must be a list');
  const calls: unknown[] = [];
  for (const [i, call] of (value as unknown[]).entries()) {
    const fn = call && typeof call === 'object' ? (call as { function?: unknown }).function : undefined;
    if (!fn || typeof fn !== 'object') return bad(`${param}[${i}].function`, 'is required');
    const args = (fn as { arguments?: unknown }).arguments;
    let parsed: unknown;
    if (typeof args === 'string') {
      try {
        parsed = JSON.parse(args);
      } catch {
        parsed = {};
      }
    } else parsed = args !== null && typeof args === 'object' ? args : {};
    calls.push({ ...(call as object), function: { ...(fn as object), arguments: parsed } });
  }
  return ok(calls);
}

/** Tools as vLLM hands them to the template: declared keys first (null when absent), then extras. */
export function toolDicts(tools: readonly unknown[], param = 'tools'): Result<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const [i, tool] of tools.entries()) {
    const t = tool as Record<string, unknown> | null;
    const fn = t && typeof t === 'object' ? (t.function as Record<string, unknown> | undefined) : undefined;
    if (!t || typeof t !== 'object' || !fn || typeof fn !== 'object' || typeof fn.name !== 'string')
      return bad(`${param}[${i}].function.name`, 'is required');
    if (t.type !== undefined && t.type !== 'function') return bad(`${param}[${i}].type`, "must be 'function'");
    const { name, description, parameters, ...fnExtra } = fn;
    const { type: _type, function: _function, ...extra } = t;
    out.push({
      type: 'function',
      function: { name, description: description ?? null, parameters: parameters ?? null, ...fnExtra },
      ...extra,
    });
  }
  return ok(out);
}

function bad(param: string, message: string): Result<never> {
  return fail(new TandemError('invalid_request', `${param}: ${message}`, { param }));
}
