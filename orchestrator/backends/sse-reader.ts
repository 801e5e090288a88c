/**
 * Server-sent events as their `data` payloads: reads a byte stream, splits it into events at
 * blank lines (LF or CRLF), and yields each event's data lines joined with "\n". Comment lines
 * and other fields (event, id, retry) are skipped; an event without data yields nothing.
 * A trailing event not closed by a blank line is still yielded when the stream ends.
 */
export async function* readSseData(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const piece of body) {
    buffer += typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
    for (;;) {
      const end = eventEnd(buffer);
      if (end === undefined) break;
      const data = dataOf(buffer.slice(0, end.at));
      buffer = buffer.slice(end.at + end.length);
      if (data !== undefined) yield data;
    }
  }
  buffer += decoder.decode();
  const data = dataOf(buffer);
  if (data !== undefined) yield data;
}

/** Where the first blank line is, as index and separator length. */
function eventEnd(text: string): { at: number; length: number } | undefined {
  const lf = text.indexOf('\n\n');
  const crlf = text.indexOf('\r\n\r\n');
  if (lf < 0 && crlf < 0) return undefined;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}

function dataOf(event: string): string | undefined {
  const lines: string[] = [];
  for (const raw of event.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) continue;
    lines.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  return lines.length === 0 ? undefined : lines.join('\n');
}
