import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';

/**
 * Cuts a stream of text chunks (a child's stdout or stderr, a logger's output) into lines, the
 * one way the tree reads line-oriented output. `onLine` gets each complete line as soon as its
 * `\n` arrives, without the `\n` or a `\r` before it; blank lines (white space only) are
 * dropped. A line whose end has not arrived waits for the next chunk, so a caller never sees a
 * line cut in two; text left without a final `\n` is never delivered. Buffer chunks are decoded
 * as UTF-8 across chunk boundaries: a character split between two chunks arrives whole.
 *
 * Returns the function to feed chunks to (a `'data'` listener as it stands).
 */
export function createLineSplitter(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  return (chunk) => {
    partial += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let at: number;
    while ((at = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, at).replace(/\r$/, '');
      partial = partial.slice(at + 1);
      if (line.trim() !== '') onLine(line);
    }
  };
}

/** A Writable (a logger's destination, say) that hands `onLine` each line written to it, as `createLineSplitter` cuts them. */
export function createLineWritable(onLine: (line: string) => void): Writable {
  const push = createLineSplitter(onLine);
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      push(chunk);
      done();
    },
  });
}
