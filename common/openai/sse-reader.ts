/**
 * The one server-sent-events reader (the WHATWG rules OpenAI's and vLLM's streams follow):
 * lines end in LF, CRLF or CR; the `data:` lines of one event join with LF; a blank line ends
 * the event; `:` comments and other fields (event, id, retry) are skipped; an event without
 * data yields nothing. Bytes may split anywhere, inside a UTF-8 character or between CR and LF.
 * A last event with no blank line after it is still delivered when the stream ends.
 *
 * Faces over one parser: `createSseParser(onData)` for push-style readers (a socket's `data`
 * events), `readSseData(body)` for an async byte stream (an undici or fetch body),
 * `readSseBatches(body)`, the same a read at a time, and `readSsePayloads(body, parse)`, an
 * OpenAI stream's payloads up to `[DONE]`, parsed, a read at a time.
 */
export interface SseParser {
  push(bytes: Uint8Array | string): void;
  /** Flushes a final event that had no blank line after it. */
  end(): void;
}

export function createSseParser(onData: (data: string) => void): SseParser {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let data: string[] = [];
  /** The last piece ended in CR: an LF opening the next one belongs to the same line end. */
  let skipLf = false;

  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onData(data.join('\n'));
      data = [];
      return;
    }
    if (text.charCodeAt(0) === 58 /* : */) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    if (field !== 'data') return;
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1);
    data.push(value);
  };

  const feed = (text: string) => {
    let start = 0;
    if (skipLf) {
      skipLf = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      line(pending + text.slice(start, i));
      pending = '';
      if (c === 13) {
        if (i + 1 === text.length)
          skipLf = true; // the LF may come in the next piece
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    pending += text.slice(start);
  };

  return {
    push(bytes) {
      feed(typeof bytes === 'string' ? bytes : decoder.decode(bytes, { stream: true }));
    },
    end() {
      feed(decoder.decode());
      if (pending !== '') line(pending);
      pending = '';
      line('');
    },
  };
}

/** Each event's data, in order, from a byte stream; ends when the stream does. */
export async function* readSseData(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const ready: string[] = [];
  const parser = createSseParser((data) => ready.push(data));
  for await (const piece of body) {
    parser.push(piece);
    // Index walk, not shift(): a read may hold many events.
    for (let i = 0; i < ready.length; i++) yield ready[i]!;
    ready.length = 0;
  }
  parser.end();
  for (const data of ready) yield data;
}

/**
 * Each read's events' data, in order, one array per read of the body that completed any event
 * (a Node stream's read takes everything buffered): a consumer that falls behind takes one
 * step per read, not one per event. Ends when the stream does.
 */
export async function* readSseBatches(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string[]> {
  let ready: string[] = [];
  const parser = createSseParser((data) => ready.push(data));
  for await (const piece of body) {
    parser.push(piece);
    if (ready.length === 0) continue;
    const batch = ready;
    ready = [];
    yield batch;
  }
  parser.end();
  if (ready.length > 0) yield ready;
}

/** One read's payloads of an OpenAI stream (readSsePayloads). */
export interface PayloadBatch<T> {
  /** The read's payloads, parsed, up to the first that failed to parse or `[DONE]`. */
  readonly values: T[];
  /** What `parse` threw on the next payload, if it threw: the stream fails after `values`. */
  readonly failure?: unknown;
}

/**
 * An OpenAI-style stream's payloads before its `[DONE]`, each through `parse`, one batch per read
 * of the body (readSseBatches). A payload `parse` throws on ends its batch: the batch carries the
 * values before it and the error, so the caller passes those on before it fails (as it would
 * have, payload by payload). The body is read to its end, past `[DONE]` (the engine ends the
 * response right after it): leaving a `for await` early destroys the stream with an AbortError,
 * and the engine's keep-alive connection with it.
 */
export async function* readSsePayloads<T>(
  body: AsyncIterable<Uint8Array | string>,
  parse: (data: string) => T,
): AsyncGenerator<PayloadBatch<T>> {
  // The parser is fed here, not through readSseBatches: one async-generator layer less per read
  // (each costs promise hops per streamed chunk on the pass-through and token paths).
  let ready: string[] = [];
  const parser = createSseParser((data) => ready.push(data));
  let done = false;
  const take = (): PayloadBatch<T> | undefined => {
    const batch = ready;
    ready = [];
    if (done) return undefined;
    const values: T[] = [];
    for (const data of batch) {
      if (data === '[DONE]') {
        done = true;
        break;
      }
      try {
        values.push(parse(data));
      } catch (error) {
        return { values, failure: error };
      }
    }
    return values.length > 0 ? { values } : undefined;
  };
  for await (const piece of body) {
    parser.push(piece);
    if (ready.length === 0) continue;
    const batch = take();
    if (batch !== undefined) yield batch;
  }
  parser.end();
  if (ready.length > 0) {
    const batch = take();
    if (batch !== undefined) yield batch;
  }
}
