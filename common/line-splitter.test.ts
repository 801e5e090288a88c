import { describe, expect, it } from 'vitest';
import { createLineSplitter, createLineWritable } from './line-splitter.ts';

function collect(): { lines: string[]; push: (chunk: Buffer | string) => void } {
  const lines: string[] = [];
  return { lines, push: createLineSplitter((line) => lines.push(line)) };
}

describe('createLineSplitter', () => {
  it('delivers a line only once its newline arrives, joining the chunks it came in', () => {
    const { lines, push } = collect();
    push('{"msg":"listen');
    expect(lines).toEqual([]);
    push('ing on http://127.0.0.1:4');
    expect(lines).toEqual([]);
    push('1234"}\n{"msg":"next"}\nhalf');
    expect(lines).toEqual(['{"msg":"listening on http://127.0.0.1:41234"}', '{"msg":"next"}']);
  });

  it('drops blank lines and the carriage return of CRLF endings', () => {
    const { lines, push } = collect();
    push('a\r\n\n   \r\nb\n');
    expect(lines).toEqual(['a', 'b']);
  });

  it('keeps a UTF-8 character whole when a Buffer chunk ends inside it', () => {
    const { lines, push } = collect();
    const bytes = Buffer.from('prefill-0 → décode\n');
    const cut = bytes.indexOf(0x86); // the second byte of the three in '→'
    push(bytes.subarray(0, cut));
    push(bytes.subarray(cut));
    expect(lines).toEqual(['prefill-0 → décode']);
  });
});

describe('createLineWritable', () => {
  it('hands over each line written to it', async () => {
    const lines: string[] = [];
    const stream = createLineWritable((line) => lines.push(line));
    stream.write('one\ntw');
    await new Promise<void>((resolve) => stream.end('o\n', resolve));
    expect(lines).toEqual(['one', 'two']);
  });
});
