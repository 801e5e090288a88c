import type { FinishReason, RequestUsage, TokenChunk, TokenStream } from './engine-api.ts';

/** The producer side of a TokenStream: the driver pushes chunks; the last one (finishReason set) ends it. */
export interface TokenStreamController {
  readonly stream: TokenStream;
  readonly ended: boolean;
  push(chunk: TokenChunk): void;
}

/**
 * A single-consumer async iterable of token chunks, buffered until read. `onCancel` runs when the
 * consumer cancels (stream.cancel(), or leaving a `for await` loop before the end); the driver
 * answers by pushing the final "abort" chunk. With `unbuffered`, chunks are not kept (a
 * synchronous onChunk callback has them) and iteration only waits for the end.
 */
export function createTokenStream(requestId: string, onCancel: () => void, unbuffered = false): TokenStreamController {
  const buffer: TokenChunk[] = [];
  let ended = false;
  let waiter: ((result: IteratorResult<TokenChunk>) => void) | undefined;
  let settle!: (value: { finishReason: FinishReason; usage: RequestUsage }) => void;
  const result = new Promise<{ finishReason: FinishReason; usage: RequestUsage }>((resolve) => (settle = resolve));

  const iterator: AsyncIterator<TokenChunk> = {
    next() {
      const chunk = buffer.shift();
      if (chunk) return Promise.resolve({ value: chunk, done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (waiter = resolve));
    },
    return() {
      if (!ended) onCancel();
      buffer.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
  };

  const stream: TokenStream = {
    requestId,
    result,
    cancel() {
      if (!ended) onCancel();
    },
    [Symbol.asyncIterator]: () => iterator,
  };

  return {
    stream,
    get ended() {
      return ended;
    },
    push(chunk) {
      if (ended) return;
      const last = chunk.finishReason !== null;
      if (last) {
        ended = true;
        settle({ finishReason: chunk.finishReason, usage: chunk.usage! });
      }
      const wake = waiter;
      if (unbuffered) {
        if (last && wake) {
          waiter = undefined;
          wake({ value: undefined, done: true });
        }
        return;
      }
      if (wake) {
        waiter = undefined;
        wake({ value: chunk, done: false });
      } else {
        buffer.push(chunk);
      }
    },
  };
}
