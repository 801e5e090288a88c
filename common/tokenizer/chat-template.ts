import { Template } from '@huggingface/jinja';
import { randomBytes } from 'node:crypto';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import {
  toConversation,
  toolDicts,
  type ChatPromptRequest,
  type ContentFormat,
  type TemplateChatMessage,
} from './chat-request.ts';
import { detectContentFormat } from './content-format.ts';
import type { ChatMessage, ChatRenderOptions, ChatTemplate, RenderedChat } from './tokenizer.ts';

/**
 * A model's Jinja chat template, rendered as vLLM renders it: messages turned from the wire shape
 * as vLLM does (chat-request.ts), then transformers' apply_chat_template: variables `messages`,
 * `tools`, `documents`, `add_generation_prompt`, the tokenizer's special tokens, and the request's
 * chat_template_kwargs (which may override the special tokens, and, as vLLM merges them,
 * `tools`, `documents`, `add_generation_prompt` and `continue_final_message`). With
 * continue_final_message the text is cut right after the final message's content, as
 * transformers cuts it. Rendered with @huggingface/jinja (the engine transformers.js uses); its
 * `tojson` writes Python's json.dumps separators (", ", ": ") without escaping non-ASCII, as
 * transformers' does. Known gap: a number the client wrote as a float with an integral value
 * (`1.0`) prints as `1` (JSON parsing in JavaScript keeps no float/int distinction), where
 * Python prints `1.0`; the start-up self-check against a worker's /tokenize catches templates
 * where that matters.
 */

export interface ChatTemplateSource {
  /** The template text. */
  readonly template: string;
  /**
   * transformers' special_tokens_map: `{ bos_token: '<s>', eos_token: '</s>', ... }`, and
   * `additional_special_tokens` as a list.
   */
  readonly specialTokens: Readonly<Record<string, unknown>>;
}

/** apply_chat_template's own parameters: consumed by transformers, never template variables. */
const CONSUMED = new Set([
  'padding',
  'truncation',
  'max_length',
  'return_tensors',
  'return_dict',
  'return_assistant_tokens_mask',
  'tokenizer_kwargs',
  'continue_final_message',
]);
/** Refused by vLLM (chat_template, tokenize) or a duplicate argument in Python (messages, conversation). */
const REFUSED = ['chat_template', 'tokenize', 'messages', 'conversation'];
/** Python's str.strip() whitespace (str.isspace), which JavaScript's trim() does not match exactly. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_SPACE = new RegExp(`^[${PY_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${PY_SPACE}]+$`);

export function createChatTemplate(source: ChatTemplateSource): Result<ChatTemplate> {
  let template: Template;
  try {
    template = new Template(source.template);
  } catch (error) {
    return fail(
      new TandemError('invalid_request', `chat template does not parse: ${(error as Error).message}`, { cause: error }),
    );
  }
  const contentFormat: ContentFormat = detectContentFormat(template.parsed);
  // Marks where the first media part was; private-use characters plus a per-process nonce, so no client text holds it.
  const mediaMark = `\uE000media-${randomBytes(6).toString('hex')}\uE000`;

  const renderRequest = (request: ChatPromptRequest): Result<RenderedChat> => {
    const kwargs = request.chat_template_kwargs ?? {};
    const refused = REFUSED.filter((key) => key in kwargs);
    if (refused.length > 0)
      return invalid('chat_template_kwargs', `chat_template_kwargs may not set ${refused.join(', ')}`);
    const pick = <K extends 'tools' | 'documents' | 'add_generation_prompt' | 'continue_final_message'>(
      key: K,
    ): unknown => (key in kwargs ? kwargs[key] : request[key]);
    if ((request.add_generation_prompt ?? true) && request.continue_final_message === true) {
      return invalid(
        'continue_final_message',
        'Cannot set both `continue_final_message` and `add_generation_prompt` to True.',
      );
    }
    const addGenerationPrompt = pick('add_generation_prompt') ?? true;
    const continueFinalMessage = pick('continue_final_message') === true;
    let tools: unknown = pick('tools') ?? null;
    if (tools !== null && !('tools' in kwargs)) {
      const dicts = toolDicts(tools as unknown[]);
      if (!dicts.ok) return dicts;
      tools = dicts.value;
    }
    const conversation = toConversation(request.messages, contentFormat, mediaMark);
    if (!conversation.ok) return conversation;

    const variables: Record<string, unknown> = { ...source.specialTokens };
    for (const [key, value] of Object.entries(kwargs))
      if (!CONSUMED.has(key) && !['tools', 'documents', 'add_generation_prompt'].includes(key)) variables[key] = value;
    variables.messages = conversation.value.messages;
    variables.tools = tools;
    variables.documents = pick('documents') ?? null;
    variables.add_generation_prompt = addGenerationPrompt;
    let text: string;
    try {
      text = template.render(variables);
    } catch (error) {
      return invalid('messages', `chat template rejected the messages: ${(error as Error).message}`, error);
    }
    if (continueFinalMessage) {
      const cut = cutAfterFinalMessage(text, conversation.value.messages.at(-1)?.content);
      if (!cut.ok) return cut;
      text = cut.value;
    }
    if (!conversation.value.hasMedia) return ok({ text, complete: true });
    const at = text.indexOf(mediaMark);
    return ok({ text: at < 0 ? text : text.slice(0, at), complete: false });
  };

  return ok({
    contentFormat,
    renderRequest,
    render(messages: readonly ChatMessage[], options: ChatRenderOptions): Result<string> {
      const wire: TemplateChatMessage[] = messages.map(({ reasoning_content, ...rest }) =>
        reasoning_content === undefined ? rest : { ...rest, reasoning: reasoning_content },
      );
      const rendered = renderRequest({
        messages: wire,
        add_generation_prompt: options.addGenerationPrompt,
        continue_final_message: options.continueFinalMessage,
        chat_template_kwargs: options.kwargs,
      });
      return rendered.ok ? ok(rendered.value.text) : rendered;
    },
  });
}

/**
 * transformers' continue_final_message: the rendered text up to the end of the final message's
 * content (its last text block for a list), trailing whitespace the template kept included.
 */
function cutAfterFinalMessage(text: string, content: unknown): Result<string> {
  let final: unknown = content;
  if (Array.isArray(content)) {
    final = [...content]
      .reverse()
      .find((block: unknown) => block !== null && typeof block === 'object' && 'text' in block)?.text;
    if (final === undefined)
      return invalid(
        'continue_final_message',
        'continue_final_message is set but we could not find any text to continue in the final message!',
      );
  }
  const message = typeof final === 'string' ? final : '';
  const stripped = message.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
  const at = text.lastIndexOf(stripped);
  if (at < 0)
    return invalid(
      'continue_final_message',
      'continue_final_message is set but the final message does not appear in the chat after applying the chat template!',
    );
  const leftStripped = message.replace(LEADING_SPACE, '');
  if (text.slice(at, at + leftStripped.length) === message) return ok(text.slice(0, at + leftStripped.length));
  return ok(text.slice(0, at + stripped.length));
}

function invalid(param: string, message: string, cause?: unknown): Result<never> {
  return fail(new TandemError('invalid_request', message, cause === undefined ? { param } : { param, cause }));
}
