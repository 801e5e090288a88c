/**
 * An incremental text/event-stream parser (the WHATWG rules the OpenAI and vLLM streams follow):
 * lines end in LF, CRLF or CR; `data:` lines of one event join with LF; a blank line dispatches;
 * `:` comments and other fields (event, id, retry) are ignored. Bytes may split anywhere,
 * including inside a UTF-8 character or between CR and LF.
 */
export interface SseParser {
  push(bytes: Uint8Array): void;
  /** Flushes a final event that had no blank line after it. */
  end(): void;
}

export function createSseParser(onData: (data: string) => void): SseParser {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let data: string[] = [];
  let skipLf = false;

  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onData(data.join('\n'));
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    if (field !== 'data') return;
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    data.push(value);
  };

  const feed = (text: string) => {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (skipLf) {
        skipLf = false;
        if (c === 10 && i === start) {
          start = i + 1;
          continue;
        }
      }
      if (c === 10 || c === 13) {
        line(pending + text.slice(start, i));
        pending = '';
        start = i + 1;
        if (c === 13) {
          if (text.charCodeAt(i + 1) === 10) {
            i++;
            start = i + 1;
          } else if (i + 1 === text.length) {
            skipLf = true; // the LF may come in the next chunk
          }
        }
      }
    }
    pending += text.slice(start);
  };

  return {
    push(bytes) {
      feed(decoder.decode(bytes, { stream: true }));
    },
    end() {
      feed(decoder.decode());
      if (pending !== '') line(pending);
      pending = '';
      line('');
    },
  };
}
