import { describe, expect, it } from 'vitest';
import { createSseParser, readSseBatches, readSseData, readSsePayloads } from './sse-reader.ts';

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

describe('SSE batches (a read at a time)', () => {
  it('gives the events each read completed as one array, in order, and an unterminated last event at the end', async () => {
    const encoder = new TextEncoder();
    async function* source() {
      yield encoder.encode('data: a\n\ndata: b\n\ndata: c');
      yield encoder.encode('\n\n: ping\n\n');
      yield encoder.encode('data: d\n\ndata: tail');
    }
    const batches: string[][] = [];
    for await (const batch of readSseBatches(source())) batches.push(batch);
    expect(batches).toEqual([['a', 'b'], ['c'], ['d'], ['tail']]);
  });
});

describe('readSsePayloads', () => {
  const encoder = new TextEncoder();

  it('gives the payloads before [DONE], parsed, a read at a time, and reads the body to its end', async () => {
    let readsTaken = 0;
    async function* source() {
      for (const piece of ['data: 1\n\ndata: 2\n\n', 'data: 3\n\ndata: [DONE]\n\ndata: 4\n\n', 'data: 5\n\n']) {
        readsTaken++;
        yield encoder.encode(piece);
      }
    }
    const batches = [];
    for await (const batch of readSsePayloads(source(), Number)) batches.push(batch);
    expect(batches).toEqual([{ values: [1, 2] }, { values: [3] }]);
    expect(readsTaken).toBe(3);
  });

  it('ends a batch at a payload parse throws on, with the values before it and the error', async () => {
    async function* source() {
      yield encoder.encode('data: 1\n\ndata: bad\n\ndata: 3\n\n');
    }
    const parse = (data: string) => {
      if (data === 'bad') throw new Error('not a number');
      return Number(data);
    };
    const batches = [];
    for await (const batch of readSsePayloads(source(), parse)) batches.push(batch);
    expect(batches).toEqual([{ values: [1], failure: new Error('not a number') }]);
  });
});

describe('SSE parser (push style)', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  function parseAll(chunks: Uint8Array[]): string[] {
    const events: string[] = [];
    const parser = createSseParser((data) => events.push(data));
    for (const chunk of chunks) parser.push(chunk);
    parser.end();
    return events;
  }
  const stream =
    ': keep-alive\n\ndata: {"text":"héllo 🙂"}\n\ndata:first\r\ndata: second\r\n\r\nevent: ignored\rid: 3\rdata: [DONE]\r\r';
  const expected = ['{"text":"héllo 🙂"}', 'first\nsecond', '[DONE]'];

  it('reads data events with LF, CRLF and CR line ends, joining multi-line data and skipping comments', () => {
    expect(parseAll([bytes(stream)])).toEqual(expected);
  });

  it('gives the same events however the bytes are split, inside characters and line ends included', () => {
    const all = bytes(stream);
    for (let cut = 1; cut < all.length; cut++) expect(parseAll([all.slice(0, cut), all.slice(cut)])).toEqual(expected);
    expect(parseAll(Array.from(all, (b) => Uint8Array.of(b)))).toEqual(expected);
  });

  it('treats a CR at the end of one piece and an LF at the start of the next as one line end', () => {
    expect(parseAll([bytes('data: a\r'), bytes('\n\r'), bytes('\ndata: b\r\r')])).toEqual(['a', 'b']);
  });

  it('flushes a last event that had no blank line after it', () => {
    expect(parseAll([bytes('data: a\n\ndata: b')])).toEqual(['a', 'b']);
  });
});

describe('SSE data reader with CR line ends', () => {
  it('reads events ended by bare CRs, split anywhere', async () => {
    const stream = 'data: {"a":1}\r\rdata: x\rdata: y\r\r';
    expect(await all([stream])).toEqual(['{"a":1}', 'x\ny']);
    expect(await all(stream.split(''))).toEqual(['{"a":1}', 'x\ny']);
  });
});
