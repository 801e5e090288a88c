import type { BlockHash } from './block-hash.ts';
import type { TokenLogprob } from './engine-api.ts';
import type { KvSequence } from './kv-cache-manager.ts';
import type { LogitsSampling } from './logits-sampler.ts';

/** What a request is for: aggregated, prefill-only (hold blocks for a handoff), or decode after a remote prefill. */
export type SequenceKind = 'generate' | 'prefill' | 'decode';

/** waiting: queued or preempted; pulling: receiving KV from a prefill engine; running: scheduled each step. */
export type SequenceState = 'waiting' | 'pulling' | 'running' | 'finished';

/** A KV pull still to be done: what the handoff covers and how to move it (core-parts.ts KvTransfer). */
export interface PendingPull {
  /** Prompt tokens whose KV the remote engine holds (at most the prompt length). */
  readonly coverageTokens: number;
  /** Bytes of one block on this engine. */
  readonly blockBytes: number;
  /**
   * Starts moving the handoff's blocks `firstBlock ..` (those this engine does not cache) into
   * `localBlockIds`, which the scheduler has just claimed for them, `bytes` in all, at `nowMs`.
   * Returns when the pull completes, clock ms; or Infinity when it completes asynchronously and
   * the engine reports the outcome with EngineCore.completePull / failPull.
   */
  start(localBlockIds: readonly number[], firstBlock: number, bytes: number, nowMs: number): number;
  /**
   * Called when the pull will not complete: the request ended before it did, or admission found
   * everything the handoff covers already cached here (an empty pull). Stops a transfer in
   * flight and lets the peer free its blocks. Not called after completePull or failPull.
   */
  abandon?(): void;
}

/** Sampling parameters checked and defaulted at submission. */
export interface ResolvedSampling {
  readonly maxTokens: number;
  readonly minTokens: number;
  readonly ignoreEos: boolean;
  readonly stopTokenIds: ReadonlySet<number> | null;
  /** Seed of the deterministic token stream (token-sampler.ts). */
  readonly seedWord: number;
  /** The distribution-shaping parameters, defaulted (logits-sampler.ts). */
  readonly shaping: LogitsSampling;
  /**
   * The request shapes the distribution beyond temperature and top-p (top-k, min-p, a penalty,
   * logprobs): the simulated engine then samples from its synthetic distribution instead of
   * its plain seeded stream.
   */
  readonly shaped: boolean;
}

/** One request inside the engine core. Mutable; owned by the core and its scheduler. */
export interface Sequence extends KvSequence {
  readonly id: string;
  readonly kind: SequenceKind;
  readonly promptLength: number;
  readonly sampling: ResolvedSampling;
  readonly arrivalMs: number;
  state: SequenceState;
  /** Tokens whose KV is computed (or pulled); tokens[numComputed..] are still to be fed. */
  numComputed: number;
  /** Tokens sampled so far (including a first token given to a decode). */
  numOutput: number;
  /** Pull to perform at admission; null once done, or for requests without one. */
  pull: PendingPull | null;
  /** When the pull in progress completes, clock ms. */
  pullReadyAtMs: number;
  /** Usage, reported on the last chunk. */
  cachedPromptTokens: number;
  /**
   * Prompt tokens this engine's prefix cache held for the request when it was submitted (whole
   * blocks, at most the prompt minus one token), tokens: what its queued prefill is net of.
   */
  cachedAtSubmitTokens: number;
  admitted: boolean;
  transferredPromptTokens: number;
  transferredBlocks: number;
  transferredBytes: number;
  kvRecomputed: boolean;
  preemptions: number;
  /** This engine has sampled a token for the request (its prompt counts in the engine's totals). */
  sampledHere: boolean;
  /** The last sampled token's logprobs, set by the executor's `sample` when the request asked for them. */
  sampledLogprob: TokenLogprob | null;
}

export function createSequence(init: {
  id: string;
  kind: SequenceKind;
  promptTokenIds: readonly number[];
  sampling: ResolvedSampling;
  arrivalMs: number;
  firstTokenId?: number | undefined;
  pull?: PendingPull | null;
  kvRecomputed?: boolean;
}): Sequence {
  const tokens = init.promptTokenIds.slice();
  const hasFirst = init.firstTokenId !== undefined;
  if (hasFirst) tokens.push(init.firstTokenId!);
  const blockHashes: BlockHash[] = [];
  return {
    id: init.id,
    kind: init.kind,
    promptLength: init.promptTokenIds.length,
    sampling: init.sampling,
    arrivalMs: init.arrivalMs,
    tokens,
    blockIds: [],
    blockHashes,
    numCachedBlocks: 0,
    state: 'waiting',
    numComputed: 0,
    numOutput: hasFirst ? 1 : 0,
    pull: init.pull ?? null,
    pullReadyAtMs: 0,
    cachedPromptTokens: 0,
    cachedAtSubmitTokens: 0,
    admitted: false,
    transferredPromptTokens: 0,
    transferredBlocks: 0,
    transferredBytes: 0,
    kvRecomputed: init.kvRecomputed ?? false,
    preemptions: 0,
    sampledHere: false,
    sampledLogprob: null,
  };
}

/** True once the prompt is computed and the sequence feeds one sampled token per step. */
export function isDecoding(seq: Sequence): boolean {
  return seq.numOutput > 0 && seq.numComputed === seq.tokens.length - 1;
}
