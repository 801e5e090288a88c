import { describe, expect, it } from 'vitest';
import { createTextChunkEvent } from './chunk-template.ts';
import { chunkBody, responseIdentity, runningUsage, type OpenAIUsage } from './shapes.ts';

const ODD_TEXTS = [
  ' fox',
  '',
  '"quoted"',
  'back\\slash \\" \\\\',
  'new\nline\r\ttab\b\f',
  '\u0000\u0001\u001f\u007f',
  'é ü 中文 😀',
  '\u2028\u2029',
  '\ud800 lone high, lone low \udc00',
  '\uFFFD',
  '</script><!--',
  'data: [DONE]\n\n',
];
const USAGES: (OpenAIUsage | null | undefined)[] = [undefined, null, runningUsage(1001, 7), runningUsage(0, 0)];
const IDENTITIES = [
  responseIdentity('completion', 'req-1', 1700000000, 'Qwen/Qwen3-8B'),
  responseIdentity('chat', 'req-2', 1700000001, 'Qwen/Qwen3-8B'),
  responseIdentity('chat', 'we"ird\\id\n😀', 0, 'mo"del\u0001'),
  responseIdentity('completion', 'we"ird\\id\n😀', 0, 'mo"del\u0001'),
];

describe('text chunk template', () => {
  it('writes exactly what JSON.stringify of the chunk body writes, for odd texts, ids, models and every usage mode', () => {
    let compared = 0;
    for (const who of IDENTITIES) {
      const event = createTextChunkEvent(who);
      for (const text of ODD_TEXTS) {
        for (const usage of USAGES) {
          const fields = usage === undefined ? { text } : { text, usage };
          expect(event(text, usage)).toBe(`data: ${JSON.stringify(chunkBody(who, fields))}\n\n`);
          compared++;
        }
      }
    }
    expect(compared).toBe(IDENTITIES.length * ODD_TEXTS.length * USAGES.length);
  });

  it('parses back to the text it was given', () => {
    const event = createTextChunkEvent(IDENTITIES[1]!);
    for (const text of ODD_TEXTS.filter((t) => t !== '')) {
      const body = JSON.parse(event(text, null).slice('data: '.length)) as {
        choices: { delta: { content: string } }[];
      };
      expect(body.choices[0]!.delta.content).toBe(text);
    }
  });
});
