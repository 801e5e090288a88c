import { describe, expect, it } from 'vitest';
import { readSseData } from './sse-reader.ts';

async function all(pieces: string[]): Promise<string[]> {
  const encoder = new TextEncoder();
  async function* source() {
    for (const piece of pieces) yield encoder.encode(piece);
  }
  const out: string[] = [];
  for await (const data of readSseData(source())) out.push(data);
  return out;
}

describe('SSE data reader', () => {
  it("yields each event's data whatever the chunk boundaries", async () => {
    const stream = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    const expected = ['{"a":1}', '{"b":2}', '[DONE]'];
    expect(await all([stream])).toEqual(expected);
    expect(await all(stream.split(''))).toEqual(expected);
    expect(await all([stream.slice(0, 9), stream.slice(9, 20), stream.slice(20)])).toEqual(expected);
  });

  it('accepts CRLF, joins multi-line data, skips comments and other fields', async () => {
    expect(await all([': keep-alive\r\n\r\nevent: x\r\nid: 3\r\ndata:one\r\ndata: two\r\n\r\n'])).toEqual(['one\ntwo']);
  });

  it('splits multi-byte characters across chunks correctly and yields a trailing unterminated event', async () => {
    const bytes = new TextEncoder().encode('data: 你好\n\ndata: tail');
    async function* source() {
      for (const byte of bytes) yield Uint8Array.of(byte);
    }
    const out: string[] = [];
    for await (const data of readSseData(source())) out.push(data);
    expect(out).toEqual(['你好', 'tail']);
  });
});
