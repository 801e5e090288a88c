/**
 * An async iteration started now rather than at the first `for await`: the first `next()` is
 * called at once (so a lazy generator sends its request now), its outcome is available as
 * `started`, and `stream` yields it and then the rest. Iterate `stream` at most once.
 */
export interface EagerStream<T> {
  readonly stream: AsyncIterable<T>;
  /** Settles with the first step: resolves when the first item (or the end) arrives, rejects when the source fails first. */
  readonly started: Promise<void>;
}

export function startEagerly<T>(source: AsyncIterable<T>): EagerStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  const first = iterator.next();
  // Whoever iterates sees a failure; `started` must not count as unhandled on its own.
  first.catch(() => undefined);
  const started = first.then(() => undefined);
  started.catch(() => undefined);
  async function* stream(): AsyncGenerator<T> {
    let step = await first;
    try {
      while (!step.done) {
        yield step.value;
        step = await iterator.next();
      }
    } finally {
      if (!step.done) await iterator.return?.();
    }
  }
  return { stream: stream(), started };
}
