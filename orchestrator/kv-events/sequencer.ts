import type { ReplayEntry } from '../../proto/kv-events/types.ts';

export type { ReplayEntry } from '../../proto/kv-events/types.ts';

/**
 * The ordering and recovery core of a KV-event subscriber, with the network injected: it takes
 * live messages (seq, payload) in arrival order and hands them on in sequence order, each
 * exactly once, filling gaps from the publisher's replay ring. It knows nothing of ZMQ or of the
 * batch format, so it runs the same under tests with an in-memory "publisher".
 *
 * Rules (vLLM's sequence: from 0 per publisher process, +1 per batch):
 * - the next expected seq (0 at first, then last + 1) is delivered at once;
 * - a seq past it is a gap (or, with nothing delivered yet, a late join): replay what is missing,
 *   deliver it, then the live message. A replay delivers only seqs below the live message that
 *   asked for it, so live messages queued behind it follow in order and never twice. The ring's
 *   newer batches that came with the replay are kept (the "spare" run) and fill later gaps
 *   without another request: a subscriber that lags while losing messages asks once per ring
 *   tail, not once per gap;
 * - the live stream going backwards (seq <= the previous live seq) means the engine restarted:
 *   reset ("restart") and start over from the new sequence;
 * - a replay asks from the last delivered seq (the anchor) rather than the one after: if the
 *   ring's batch at that seq differs byte for byte from the one delivered, the publisher is a
 *   new incarnation whose sequence has already passed ours: reset ("restart") as well;
 * - when replay is off, fails, or the ring no longer holds the start of the gap, the worker's
 *   state is unknown: reset ("unrecoverable-gap"), deliver the longest run the replay did return
 *   that ends just before the live message, and continue live. After a reset the consumer
 *   rebuilds from an empty state, so what it holds stays a subset of the worker's truth.
 */
export type KvResetReason = 'restart' | 'unrecoverable-gap';

export interface ReplayOutcome {
  /** What the publisher sent, in order (seq >= the requested start). */
  readonly entries: readonly ReplayEntry[];
  /** True when the end marker arrived; false on a deadline or transport failure. */
  readonly complete: boolean;
}

/** Asks the publisher for every buffered batch with seq >= start. Should not throw. */
export type ReplayFn = (start: bigint) => Promise<ReplayOutcome>;

export interface KvEventSequencerOptions {
  /** Omitted when the worker has no replay endpoint: every gap is then unrecoverable. */
  readonly replay?: ReplayFn;
  /** Receives each batch once, in sequence order. */
  readonly deliver: (seq: bigint, payload: Uint8Array, via: 'live' | 'replay') => void;
  readonly reset: (reason: KvResetReason) => void;
}

export interface KvEventSequencerStats {
  /** Gaps in the live stream (seq > last + 1). */
  gaps: number;
  /** First messages with seq > 0 (history missed before subscribing). */
  lateJoins: number;
  /** Replay requests made. */
  replays: number;
  /** Batches delivered from replays. */
  replayedBatches: number;
  /** Resets by reason. */
  restarts: number;
  unrecoverableGaps: number;
  /** Last sequence delivered; null before the first and right after a restart. */
  lastSeq: bigint | null;
}

export interface KvEventSequencer {
  /** Handles one live message. Calls must not overlap: await each before the next. */
  receive(seq: bigint, payload: Uint8Array): Promise<void>;
  /**
   * The live connection dropped (the next messages may come from a restarted publisher whose
   * sequence happens to continue ours): verify the next one against the replay ring.
   */
  connectionLost(): void;
  stats(): Readonly<KvEventSequencerStats>;
}

export function createKvEventSequencer(options: KvEventSequencerOptions): KvEventSequencer {
  const stats: KvEventSequencerStats = {
    gaps: 0,
    lateJoins: 0,
    replays: 0,
    replayedBatches: 0,
    restarts: 0,
    unrecoverableGaps: 0,
    lastSeq: null,
  };
  let lastSeq: bigint | undefined; // last delivered
  let lastPayload: Uint8Array | undefined; // its bytes, the anchor for incarnation checks
  let liveLast: bigint | undefined; // last seq seen on the live stream
  let verifyNext = false;
  // Batches a replay returned past the live message that asked for it, by seq (same incarnation).
  const spare = new Map<bigint, Uint8Array>();

  const deliver = (seq: bigint, payload: Uint8Array, via: 'live' | 'replay') => {
    lastSeq = seq;
    lastPayload = payload;
    stats.lastSeq = seq;
    if (spare.size > 0) spare.delete(seq);
    if (via === 'replay') stats.replayedBatches++;
    options.deliver(seq, payload, via);
  };

  const reset = (reason: KvResetReason) => {
    if (reason === 'restart') {
      stats.restarts++;
      lastSeq = undefined;
      lastPayload = undefined;
      stats.lastSeq = null;
      verifyNext = false;
      spare.clear();
    } else {
      stats.unrecoverableGaps++;
    }
    options.reset(reason);
  };

  /** Fills [expected, seq) from the ring, then delivers the live message. */
  async function recover(seq: bigint, payload: Uint8Array): Promise<void> {
    const verifying = verifyNext;
    verifyNext = false;
    const expected = lastSeq === undefined ? 0n : lastSeq + 1n;
    if (!verifying && fillFromSpare(expected, seq)) {
      deliver(seq, payload, 'live');
      return;
    }
    if (!options.replay) {
      reset('unrecoverable-gap');
      deliver(seq, payload, 'live');
      return;
    }
    const anchor = lastSeq;
    const start = anchor ?? 0n;
    stats.replays++;
    let outcome: ReplayOutcome;
    try {
      outcome = await options.replay(start);
    } catch {
      outcome = { entries: [], complete: false };
    }
    spare.clear();
    for (const entry of outcome.entries) if (entry.seq > seq) spare.set(entry.seq, entry.payload);
    let entries = outcome.entries.filter((entry) => entry.seq >= start && entry.seq < seq);
    if (anchor !== undefined && entries[0]?.seq === anchor) {
      if (!sameBytes(entries[0].payload, lastPayload)) {
        // The ring holds a different batch under our last seq: a new publisher incarnation.
        reset('restart');
        return recover(seq, payload);
      }
      entries = entries.slice(1);
    }
    if (coversExactly(entries, expected, seq)) {
      for (const entry of entries) deliver(entry.seq, entry.payload, 'replay');
    } else {
      reset('unrecoverable-gap');
      for (const entry of contiguousTail(entries, seq)) deliver(entry.seq, entry.payload, 'replay');
    }
    deliver(seq, payload, 'live');
  }

  /** Delivers [from, until) from the spare run if it holds all of it. */
  function fillFromSpare(from: bigint, until: bigint): boolean {
    if (spare.size === 0) return false;
    for (let s = from; s < until; s++) if (!spare.has(s)) return false;
    for (let s = from; s < until; s++) deliver(s, spare.get(s)!, 'replay');
    return true;
  }

  return {
    async receive(seq, payload) {
      if (liveLast !== undefined && seq <= liveLast) reset('restart');
      liveLast = seq;
      const expected = lastSeq === undefined ? 0n : lastSeq + 1n;
      if (seq === expected && !verifyNext) {
        deliver(seq, payload, 'live');
        return;
      }
      if (seq > expected) {
        if (lastSeq === undefined) stats.lateJoins++;
        else stats.gaps++;
      }
      await recover(seq, payload);
    },
    connectionLost() {
      // With nothing delivered there is nothing to verify: the next message starts afresh.
      if (lastSeq !== undefined) verifyNext = true;
    },
    stats: () => ({ ...stats }),
  };
}

/** True when entries are exactly from, from+1, ..., until-1. */
function coversExactly(entries: readonly ReplayEntry[], from: bigint, until: bigint): boolean {
  if (BigInt(entries.length) !== until - from) return false;
  return entries.every((entry, i) => entry.seq === from + BigInt(i));
}

/** The longest run of consecutive entries that ends at until-1 (empty when none does). */
function contiguousTail(entries: readonly ReplayEntry[], until: bigint): readonly ReplayEntry[] {
  let i = entries.length;
  let want = until - 1n;
  while (i > 0 && entries[i - 1]!.seq === want) {
    i--;
    want--;
  }
  return entries.slice(i);
}

function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (!b || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
