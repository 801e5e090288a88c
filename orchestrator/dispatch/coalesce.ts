import type { BackendChunk } from '../backends/index.ts';
import type { GenerationEvent, TokenLogprob } from '../serving.ts';

/**
 * Merges token chunks that are already waiting into one: after each chunk, whatever the
 * backend can hand over before the event loop next polls for I/O (messages that arrived in the
 * same socket read, buffered while the process was busy) joins it. A stream read promptly passes
 * through chunk by chunk; a stream the process falls behind on is read in batches, so the cost
 * downstream (one event, one SSE write, one metric sample per batch) shrinks exactly when load
 * grows, and the backlog cannot grow without bound. The final chunk (finish reason and usage)
 * always ends a batch. Logprobs, when the chunks carry them, are merged alongside their tokens.
 *
 * A source that already hands over everything buffered in each chunk marks itself with
 * `coalesced: true` (the grpc backend does) and is returned as it is: one layer, one promise
 * and one event-loop turn less per chunk.
 */
export function coalesceChunks(source: AsyncIterable<BackendChunk>): AsyncIterable<BackendChunk> {
  if ((source as { readonly coalesced?: unknown }).coalesced === true) return source;
  return coalesceByTurn(source);
}

async function* coalesceByTurn(source: AsyncIterable<BackendChunk>): AsyncGenerator<BackendChunk> {
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<BackendChunk>> | undefined;
  let finished = false;
  try {
    for (;;) {
      const first = await (pending ?? iterator.next());
      pending = undefined;
      if (first.done) {
        finished = true;
        return;
      }
      if (first.value.finishReason !== undefined) {
        finished = true;
        yield first.value;
        return;
      }
      let tokens: number[] | undefined;
      let output: { data: string[]; tokens: number } | undefined;
      let logprobs: TokenLogprob[] | undefined;
      let last: BackendChunk = first.value;
      for (;;) {
        pending = iterator.next();
        const next = await Promise.race([pending, nextTurn()]);
        if (next === TURN) break;
        pending = undefined;
        if (next.done) {
          finished = true;
          break;
        }
        tokens ??= [...first.value.tokenIds];
        tokens.push(...next.value.tokenIds);
        if (next.value.output) {
          output ??= { data: [...(first.value.output?.data ?? [])], tokens: first.value.output?.tokens ?? 0 };
          output.data.push(...next.value.output.data);
          output.tokens += next.value.output.tokens;
        }
        if (first.value.logprobs !== undefined) {
          logprobs ??= [...first.value.logprobs];
          logprobs.push(...(next.value.logprobs ?? []));
        }
        last = next.value;
        if (last.finishReason !== undefined) {
          finished = true;
          break;
        }
      }
      const merged: BackendChunk =
        tokens === undefined
          ? first.value
          : {
              ...last,
              tokenIds: tokens,
              ...(logprobs === undefined ? {} : { logprobs }),
              ...((output ?? first.value.output) ? { output: output ?? first.value.output } : {}),
            };
      if (merged.tokenIds.length > 0 || merged.output !== undefined || merged.finishReason !== undefined) yield merged;
      if (finished) return;
    }
  } finally {
    if (!finished) {
      // Abandoned mid-stream: a read still in flight must not become an unhandled rejection.
      pending?.catch(() => undefined);
      void iterator.return?.()?.catch(() => undefined);
    }
  }
}

const TURN = Symbol('turn');
/** Resolves after the event loop's next check phase: everything already buffered comes first. */
const nextTurn = () => new Promise<typeof TURN>((resolve) => setImmediate(resolve, TURN));

/** Completion tokens a chunk carries: its token ids, or what a pass-through counted in its output. */
export const chunkTokenCount = (chunk: BackendChunk): number => chunk.tokenIds.length + (chunk.output?.tokens ?? 0);

/** The event a chunk gives the frontend: its tokens, or a pass-through's output verbatim; none for an empty chunk. */
export function chunkEvent(chunk: BackendChunk): GenerationEvent | undefined {
  if (chunk.output) return { kind: 'output', data: chunk.output.data, tokens: chunk.output.tokens };
  if (chunk.tokenIds.length > 0)
    return chunk.logprobs === undefined
      ? { kind: 'tokens', tokenIds: chunk.tokenIds }
      : { kind: 'tokens', tokenIds: chunk.tokenIds, logprobs: chunk.logprobs };
  return undefined;
}
