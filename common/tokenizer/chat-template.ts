import { Template } from '@huggingface/jinja';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import type { ChatMessage, ChatRenderOptions, ChatTemplate } from './tokenizer.ts';

/**
 * A model's Jinja chat template, rendered with @huggingface/jinja (the engine transformers.js
 * uses). Variables follow transformers' apply_chat_template: `messages`, `add_generation_prompt`,
 * the special tokens from tokenizer_config.json, then the request's chat_template_kwargs (which
 * cannot shadow those). `raise_exception` and `strftime_now` are the engine's built-ins.
 */

export interface ChatTemplateSource {
  /** The template text. */
  readonly template: string;
  /** Special tokens as strings, e.g. `{ bos_token: '<s>', eos_token: '</s>' }`. */
  readonly specialTokens: Readonly<Record<string, string>>;
}

export function createChatTemplate(source: ChatTemplateSource): Result<ChatTemplate> {
  let template: Template;
  try {
    template = new Template(source.template);
  } catch (error) {
    return fail(new TandemError('invalid_request', `chat template does not parse: ${(error as Error).message}`, { cause: error }));
  }
  return ok({
    render(messages: readonly ChatMessage[], options: ChatRenderOptions): Result<string> {
      if (options.continueFinalMessage && options.addGenerationPrompt) {
        return fail(new TandemError('invalid_request', 'continue_final_message and add_generation_prompt cannot both be true', { param: 'continue_final_message' }));
      }
      const last = messages.at(-1);
      if (options.continueFinalMessage && last?.role !== 'assistant') {
        return fail(new TandemError('invalid_request', 'continue_final_message needs the last message to be from the assistant', { param: 'continue_final_message' }));
      }
      let text: string;
      try {
        text = template.render({
          ...options.kwargs,
          ...source.specialTokens,
          messages: messages.map(withoutUndefined),
          add_generation_prompt: options.addGenerationPrompt,
        });
      } catch (error) {
        return fail(new TandemError('invalid_request', `chat template rejected the messages: ${(error as Error).message}`, { param: 'messages', cause: error }));
      }
      if (!options.continueFinalMessage) return ok(text);
      // As transformers does: cut the rendered text right after the final message's content.
      const content = (last?.content ?? '').trimEnd();
      const at = content === '' ? -1 : text.lastIndexOf(content);
      if (at < 0) return fail(new TandemError('invalid_request', 'continue_final_message: the final message does not appear in the rendered prompt', { param: 'continue_final_message' }));
      return ok(text.slice(0, at + content.length));
    },
  });
}

function withoutUndefined(message: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) if (value !== undefined) out[key] = value;
  return out;
}
