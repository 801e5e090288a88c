import type { ReplayEntry } from '../../proto/kv-events/types.ts';

export type { ReplayEntry } from '../../proto/kv-events/types.ts';

/**
 * The publisher's replay buffer: the last `capacity` published batches as (seq, payload), like
 * vLLM's `deque(maxlen=buffer_steps)`. Sequences are pushed in increasing order without holes,
 * so the entries are always one contiguous run `oldest()..newest()`.
 */
export interface ReplayRing {
  readonly capacity: number;
  /** Adds the next batch, evicting the oldest when full. `seq` must be newest() + 1. */
  push(seq: bigint, payload: Uint8Array): void;
  /** Every held entry with seq >= start, oldest first (a snapshot: later pushes do not affect it). */
  from(start: bigint): ReplayEntry[];
  size(): number;
  /** Sequence of the oldest held entry, or undefined when empty. */
  oldest(): bigint | undefined;
  newest(): bigint | undefined;
}

export function createReplayRing(capacity: number): ReplayRing {
  if (!Number.isSafeInteger(capacity) || capacity < 1)
    throw new RangeError(`replay buffer capacity must be a positive integer, got ${capacity}`);
  const slots = new Array<ReplayEntry | undefined>(capacity);
  let head = 0; // index of the oldest entry
  let count = 0;
  const at = (i: number) => slots[(head + i) % capacity]!;
  return {
    capacity,
    push(seq, payload) {
      if (count > 0 && seq !== at(count - 1).seq + 1n)
        throw new RangeError(`replay ring expects seq ${at(count - 1).seq + 1n}, got ${seq}`);
      if (count < capacity) {
        slots[(head + count) % capacity] = { seq, payload };
        count++;
      } else {
        slots[head] = { seq, payload };
        head = (head + 1) % capacity;
      }
    },
    from(start) {
      if (count === 0) return [];
      const oldest = at(0).seq;
      // Entries are contiguous, so the first wanted one sits at a computed offset.
      const skip = start <= oldest ? 0 : Number(start - oldest < BigInt(count) ? start - oldest : BigInt(count));
      const out: ReplayEntry[] = [];
      for (let i = skip; i < count; i++) out.push(at(i));
      return out;
    },
    size: () => count,
    oldest: () => (count === 0 ? undefined : at(0).seq),
    newest: () => (count === 0 ? undefined : at(count - 1).seq),
  };
}
