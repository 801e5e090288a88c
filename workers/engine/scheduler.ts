import type { KvCacheManager } from './kv-cache-manager.ts';
import type { Sequence } from './sequence.ts';

/**
 * The continuous-batching scheduler (after vLLM v1's Scheduler.schedule): each step gets a
 * token budget (`maxNumBatchedTokens`). Running requests go first, in admission order: a
 * decoding one takes 1 token, one still prefilling takes as many prompt tokens as the budget
 * leaves (chunked prefill, so long prompts span steps while decodes keep going). When blocks
 * run out, the most recently admitted running request is preempted (its blocks freed, to be
 * recomputed later from the front of the queue) until the one being scheduled fits. Then, if
 * nothing was preempted, waiting requests are admitted in order while the budget, the
 * `maxNumSeqs` cap and the blocks last; admission reuses the longest cached prefix, leaving at
 * least one token to compute. A decode with a pending KV pull is admitted to the pulling set
 * instead: it claims blocks for the missing part of its prompt and waits out the transfer.
 */
export interface SchedulerOptions {
  readonly maxNumBatchedTokens: number;
  readonly maxNumSeqs: number;
}

/** One step's work: `sequences[i]` computes `tokens[i]` new tokens. A new batch each step. */
export interface ScheduledBatch {
  readonly sequences: Sequence[];
  readonly tokens: number[];
}

export interface SchedulerCounters {
  /** Tokens looked up in the prefix cache at admission, and tokens found. */
  prefixQueriesTokens: number;
  prefixHitsTokens: number;
  preemptions: number;
  pulledBlocks: number;
  pulledBytes: number;
}

export interface Scheduler {
  readonly waiting: readonly Sequence[];
  readonly running: readonly Sequence[];
  readonly pulling: readonly Sequence[];
  readonly counters: Readonly<SchedulerCounters>;
  /** Queues a new request at the back of the waiting queue. */
  enqueue(seq: Sequence): void;
  /** Moves every pull complete by `nowMs` back to the front of the waiting queue, KV in place. */
  completePulls(nowMs: number): void;
  /** Earliest completion time of a pull in progress, clock ms (asynchronous pulls not counted). */
  nextPullReadyMs(): number | undefined;
  /**
   * Takes a sequence whose pull failed out of the pulling set: frees the blocks claimed for it
   * (its cached prefix goes back to the cache), un-counts the pull in counters and usage, and
   * queues it at the front of the waiting queue with no pull, to compute its prompt here.
   */
  abandonPull(seq: Sequence): void;
  /** Plans one step at `nowMs`: allocates blocks, registers the blocks this step fills, preempts. */
  schedule(nowMs: number): ScheduledBatch;
  /** Drops running sequences whose state is no longer "running" (finished in the last step). */
  pruneRunning(): void;
  /** Takes a sequence out of whichever queue holds it (abort). Does not free its blocks. */
  remove(seq: Sequence): void;
}

const NO_BLOCKS: readonly number[] = Object.freeze([]);

export function createScheduler(kv: KvCacheManager, options: SchedulerOptions): Scheduler {
  const B = kv.blockSize;
  let waiting: Sequence[] = [];
  let running: Sequence[] = [];
  let pulling: Sequence[] = [];
  const counters: SchedulerCounters = {
    prefixQueriesTokens: 0,
    prefixHitsTokens: 0,
    preemptions: 0,
    pulledBlocks: 0,
    pulledBytes: 0,
  };

  const preempt = (seq: Sequence) => {
    kv.free(seq);
    seq.numComputed = 0;
    seq.state = 'waiting';
    seq.preemptions++;
    counters.preemptions++;
    waiting.unshift(seq);
  };

  /** Counts an admission's prefix-cache lookup as vLLM does (every known token is a query). */
  const countLookup = (seq: Sequence, hitTokens: number) => {
    if (kv.prefixCaching) {
      counters.prefixQueriesTokens += seq.tokens.length;
      counters.prefixHitsTokens += hitTokens;
    }
    if (!seq.admitted) {
      seq.admitted = true;
      seq.cachedPromptTokens = Math.min(hitTokens, seq.promptLength);
    }
  };

  /** Claims blocks for the part of the prompt the peer holds and this engine lacks; starts the pull. */
  const startPull = (seq: Sequence, prefix: readonly number[], nowMs: number): boolean => {
    const pull = seq.pull!;
    if (!kv.allocate(seq, pull.coverageTokens, prefix)) return false;
    const hitTokens = prefix.length * B;
    const blocks = Math.ceil(pull.coverageTokens / B) - prefix.length;
    const bytes = blocks * pull.blockBytes;
    seq.numComputed = hitTokens;
    seq.transferredPromptTokens = pull.coverageTokens - hitTokens;
    seq.transferredBlocks = blocks;
    seq.transferredBytes = bytes;
    counters.pulledBlocks += blocks;
    counters.pulledBytes += bytes;
    seq.pullReadyAtMs = pull.start(seq.blockIds.slice(prefix.length), prefix.length, bytes, nowMs);
    seq.state = 'pulling';
    pulling.push(seq);
    return true;
  };

  return {
    get waiting() {
      return waiting;
    },
    get running() {
      return running;
    },
    get pulling() {
      return pulling;
    },
    counters,
    enqueue(seq) {
      seq.state = 'waiting';
      waiting.push(seq);
    },
    completePulls(nowMs) {
      if (pulling.length === 0) return;
      const done = pulling.filter((seq) => seq.pullReadyAtMs <= nowMs);
      if (done.length === 0) return;
      pulling = pulling.filter((seq) => seq.pullReadyAtMs > nowMs);
      for (const seq of done.reverse()) {
        const coverage = seq.pull!.coverageTokens;
        seq.pull = null;
        kv.cacheComputed(seq, coverage);
        // With every known token's KV in place, the last one is fed again to sample from (vLLM does the same).
        seq.numComputed = coverage === seq.tokens.length ? coverage - 1 : coverage;
        seq.state = 'waiting';
        waiting.unshift(seq);
      }
    },
    nextPullReadyMs() {
      let earliest: number | undefined;
      for (const seq of pulling) {
        // An asynchronous pull (Infinity) is woken by its transfer, not by the clock.
        if (Number.isFinite(seq.pullReadyAtMs) && (earliest === undefined || seq.pullReadyAtMs < earliest))
          earliest = seq.pullReadyAtMs;
      }
      return earliest;
    },
    abandonPull(seq) {
      pulling = pulling.filter((s) => s !== seq);
      kv.free(seq);
      counters.pulledBlocks -= seq.transferredBlocks;
      counters.pulledBytes -= seq.transferredBytes;
      seq.transferredPromptTokens = 0;
      seq.transferredBlocks = 0;
      seq.transferredBytes = 0;
      seq.pull = null;
      seq.numComputed = 0;
      seq.state = 'waiting';
      waiting.unshift(seq);
    },
    schedule(nowMs) {
      // Fresh arrays each step: truncating reused ones (length = 0) costs a runtime call and
      // drops their backing store anyway.
      const batch: ScheduledBatch = { sequences: [], tokens: [] };
      let budget = options.maxNumBatchedTokens;
      let preempted = false;

      for (let i = 0; i < running.length && budget > 0; ) {
        const seq = running[i]!;
        const want = Math.min(seq.tokens.length - seq.numComputed, budget);
        let fits = kv.allocate(seq, seq.numComputed + want);
        while (!fits) {
          const victim = running.pop()!;
          preempt(victim);
          preempted = true;
          if (victim === seq) break;
          fits = kv.allocate(seq, seq.numComputed + want);
        }
        if (!fits) break; // seq preempted itself: it was the last running request
        kv.cacheComputed(seq, seq.numComputed + want);
        batch.sequences.push(seq);
        batch.tokens.push(want);
        budget -= want;
        i++;
      }

      if (!preempted) {
        while (waiting.length > 0 && budget > 0 && running.length < options.maxNumSeqs) {
          const seq = waiting[0]!;
          // A request holding no blocks is new or preempted: it may reuse a cached prefix. One
          // holding blocks has just received its KV from a pull and resumes where that left it.
          const fresh = seq.blockIds.length === 0;
          const prefix = fresh ? kv.findCachedPrefix(seq, seq.tokens.length - 1) : NO_BLOCKS;
          const hitTokens = prefix.length * B;
          if (fresh && seq.pull && seq.pull.coverageTokens > hitTokens) {
            if (!startPull(seq, prefix, nowMs)) break;
            waiting.shift();
            countLookup(seq, hitTokens);
            continue;
          }
          const start = fresh ? hitTokens : seq.numComputed;
          const want = Math.min(seq.tokens.length - start, budget);
          if (!kv.allocate(seq, start + want, prefix)) break;
          waiting.shift();
          if (fresh) {
            countLookup(seq, hitTokens);
            seq.numComputed = start;
            if (seq.pull) {
              // Everything the peer holds is cached here: an empty pull.
              seq.pull.abandon?.();
              seq.pull = null;
            }
          }
          kv.cacheComputed(seq, start + want);
          seq.state = 'running';
          running.push(seq);
          batch.sequences.push(seq);
          batch.tokens.push(want);
          budget -= want;
        }
      }
      return batch;
    },
    pruneRunning() {
      for (const seq of running) {
        if (seq.state !== 'running') {
          running = running.filter((s) => s.state === 'running');
          return;
        }
      }
    },
    remove(seq) {
      if (seq.state === 'waiting') waiting = waiting.filter((s) => s !== seq);
      else if (seq.state === 'pulling') pulling = pulling.filter((s) => s !== seq);
      else if (seq.state === 'running') running = running.filter((s) => s !== seq);
    },
  };
}
