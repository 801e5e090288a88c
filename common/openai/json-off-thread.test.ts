import { afterAll, describe, expect, it } from 'vitest';
import { createOffThreadJsonParser } from './json-off-thread.ts';

const parser = createOffThreadJsonParser(8);
afterAll(() => parser.close());

describe('JSON parsing off the event loop', () => {
  it('gives what JSON.parse gives, for a large body too', async () => {
    const body = JSON.stringify({ prompt: 'lorem "ipsum" \\ '.repeat(100_000), n: [1, 2, { a: null }] });
    expect(await parser.parse(body)).toEqual({ ok: true, value: JSON.parse(body) });
  });

  it('refuses a body nested past the bound, and reports malformed JSON', async () => {
    expect(await parser.parse(`${'['.repeat(9)}${']'.repeat(9)}`)).toMatchObject({ ok: false, reason: 'too_deep' });
    expect(await parser.parse(`${'['.repeat(8)}${']'.repeat(8)}`)).toMatchObject({ ok: true });
    const bad = await parser.parse('{"a": 1,');
    expect(bad).toMatchObject({ ok: false, reason: 'invalid' });
    expect((bad as { message: string }).message).not.toBe('');
  });

  it('answers concurrent requests each with its own result', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => parser.parse(JSON.stringify({ i }))));
    expect(results.map((r) => (r as { value: { i: number } }).value.i)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
  });
});

describe('a JSON parser thread that stops', () => {
  it("answers what it was parsing as its own failure, not as the client's bad JSON", async () => {
    const stopping = createOffThreadJsonParser(undefined);
    const pending = stopping.parse(JSON.stringify({ prompt: 'x'.repeat(4_000_000) }));
    await stopping.close();
    expect(await pending).toMatchObject({ ok: false, reason: 'parser_failed' });
  });
});
