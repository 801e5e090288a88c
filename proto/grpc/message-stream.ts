/**
 * A server stream's messages as they arrive: iterate them one by one (`for await`), or take
 * every message already received in one `nextBatch()`. Breaking out of a `for await`, `return()`
 * and `cancel()` cancel the call. Failures reject with an `RpcError`, after the messages that
 * arrived before the failure have been taken (a cancelled or timed-out call delivers no more).
 */
export interface MessageStream<T> extends AsyncIterableIterator<T> {
  /**
   * Every message received and not yet taken (at least one), waiting for the next when none is;
   * `[]` once the stream has ended cleanly. One call at a time.
   */
  nextBatch(): Promise<T[]>;
  /** Cancels the call (CANCELLED); a no-op once it ended. */
  cancel(): void;
}

/** A MessageStream over `nextBatch`, one message at a time for `for await`. */
export function iterateBatches<T>(nextBatch: () => Promise<T[]>, cancel: () => void): MessageStream<T> {
  let pending: T[] = [];
  let at = 0;
  const stream: MessageStream<T> = {
    nextBatch,
    cancel,
    async next(): Promise<IteratorResult<T>> {
      if (at >= pending.length) {
        pending = await nextBatch();
        at = 0;
        if (pending.length === 0) return { done: true, value: undefined };
      }
      return { done: false, value: pending[at++]! };
    },
    async return(): Promise<IteratorResult<T>> {
      cancel();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
