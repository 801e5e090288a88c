import { describe, expect, it } from 'vitest';
import { createSseParser } from './sse-parser.ts';

function parseAll(chunks: Uint8Array[]): string[] {
  const events: string[] = [];
  const parser = createSseParser((data) => events.push(data));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return events;
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe('SSE parser', () => {
  const stream = ': keep-alive\n\ndata: {"text":"héllo 🙂"}\n\ndata:first\r\ndata: second\r\n\r\nevent: ignored\rid: 3\rdata: [DONE]\r\r';
  const expected = ['{"text":"héllo 🙂"}', 'first\nsecond', '[DONE]'];

  it('reads data events with LF, CRLF and CR line ends, joining multi-line data and skipping comments', () => {
    expect(parseAll([bytes(stream)])).toEqual(expected);
  });

  it('gives the same events however the bytes are split, inside characters and line ends included', () => {
    const all = bytes(stream);
    for (let cut = 1; cut < all.length; cut++) expect(parseAll([all.slice(0, cut), all.slice(cut)])).toEqual(expected);
    expect(parseAll(Array.from(all, (b) => Uint8Array.of(b)))).toEqual(expected);
  });

  it('flushes a last event that had no blank line after it', () => {
    expect(parseAll([bytes('data: a\n\ndata: b')])).toEqual(['a', 'b']);
  });
});
