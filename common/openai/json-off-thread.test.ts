import { afterAll, describe, expect, it } from 'vitest';
import { createOffThreadJsonParser } from './json-off-thread.ts';

const parser = createOffThreadJsonParser();
afterAll(() => parser.close());

describe('JSON parsing off the event loop', () => {
  it('gives what JSON.parse gives, for a large body too, and moves the bytes rather than copying them', async () => {
    const body = JSON.stringify({ prompt: 'lorem "ipsum" \\ caf\u00e9 '.repeat(100_000), n: [1, 2, { a: null }] });
    const bytes = Buffer.concat([Buffer.from(body)]); // owns its whole buffer, as a concatenated body does
    expect(await parser.parse(bytes)).toEqual({ ok: true, value: JSON.parse(body) });
    expect(bytes.byteLength).toBe(0); // transferred
    const shared = Buffer.from(`   ${JSON.stringify({ a: 1 })}`).subarray(3);
    expect(await parser.parse(shared)).toEqual({ ok: true, value: { a: 1 } });
    expect(shared.byteLength).toBeGreaterThan(0); // a view into a larger buffer is copied
  });

  it('reports malformed JSON, and an empty body is no value', async () => {
    const bad = await parser.parse(Buffer.from('{"a": 1,'));
    expect(bad).toMatchObject({ ok: false, reason: 'invalid' });
    expect((bad as { message: string }).message).not.toBe('');
    expect(await parser.parse(Buffer.from('  \n'))).toEqual({ ok: true, value: undefined });
  });

  it('answers concurrent requests each with its own result', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => parser.parse(Buffer.from(JSON.stringify({ i })))),
    );
    expect(results.map((r) => (r as { value: { i: number } }).value.i)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
  });
});

describe('a JSON parser thread that stops', () => {
  it("answers what it was parsing as its own failure, not as the client's bad JSON", async () => {
    const stopping = createOffThreadJsonParser();
    const pending = stopping.parse(Buffer.from(JSON.stringify({ prompt: 'x'.repeat(4_000_000) })));
    await stopping.close();
    expect(await pending).toMatchObject({ ok: false, reason: 'parser_failed' });
  });
});
