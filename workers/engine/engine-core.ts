import { TandemError } from '../../common/errors.ts';
import type { PrefillChunk } from '../../common/profiles/index.ts';
import type { KvCacheEvent } from '../../proto/kv-events/types.ts';
import { sharedBlockHasher } from './block-hash.ts';
import { createBlockPool, type BlockPool } from './block-pool.ts';
import type { CoreParts } from './core-parts.ts';
import type {
  DecodeRequest,
  EngineStatus,
  FinishReason,
  GenerateRequest,
  HeldKv,
  KvHandoff,
  ReleaseResult,
  RequestUsage,
  TokenLogprob,
} from './engine-api.ts';
import { createHandoffBook } from './handoff-book.ts';
import { createKvCacheManager } from './kv-cache-manager.ts';
import type { ResolvedEngineOptions } from './options.ts';
import { createScheduler } from './scheduler.ts';
import { createSequence, isDecoding, type PendingPull, type Sequence, type SequenceKind } from './sequence.ts';
import { createSimParts } from './sim-parts.ts';
import { seedWordFor } from './token-sampler.ts';
import { resolveSampling, validatePrompt } from './validate.ts';

/**
 * The engine core: no clock, no timers, no I/O of its own. The caller passes the time (clock ms)
 * into every call and runs `step` whenever it wants the next forward pass; the step applies its
 * effects at once (blocks, prefix cache, sampled tokens, finished requests) and says how long
 * the pass takes (`durationMs`). A driver delivers the step's outputs when that time has passed
 * (engine-driver.ts); the cluster simulator can drive many cores on one virtual clock the same
 * way. What a pass computes and costs, and how KV pulls move, are the CoreParts (core-parts.ts):
 * by default the simulated engine's (sim-parts.ts: roofline time, seeded tokens, link-model
 * pulls, all pure); the reference engine's run its model and pull over TCP.
 */
export interface CoreOutput {
  readonly requestId: string;
  /** Tokens sampled for the request in this step (at most one). */
  readonly tokenIds: readonly number[];
  /** The request ended: no more outputs follow. */
  readonly done: boolean;
  /** Why it ended; null while running, and for a prefill that handed its blocks off without finishing. */
  readonly finishReason: FinishReason | null;
  /** Set when done. */
  readonly usage: RequestUsage | null;
  /** A finished prefill-only request: what it holds for the decode side, or null. */
  readonly handoff?: KvHandoff | null;
  /** The sampled token's logprobs, when the request asked for them. */
  readonly logprobs?: readonly TokenLogprob[];
}

export interface CoreStep {
  /** Length of this forward pass on the clock (model time / time scale), ms. */
  readonly durationMs: number;
  /** What the pass costs, model seconds (the roofline's; the reference engine's measured compute). */
  readonly modelSeconds: number;
  readonly outputs: readonly CoreOutput[];
  /** Requests in the pass, prompt tokens computed, and requests decoding one token. */
  readonly sequences: number;
  readonly prefillTokens: number;
  readonly decodeSequences: number;
}

export interface EngineCore {
  readonly options: ResolvedEngineOptions;
  /** Validates and queues a request; throws TandemError on bad input. Returns an output when the request is already complete (a decode whose given first token ends it). */
  submit(kind: SequenceKind, request: GenerateRequest | DecodeRequest, nowMs: number): CoreOutput | null;
  /** Ends a live request and frees its blocks; null when no live request has that id. */
  abort(requestId: string): CoreOutput | null;
  isLive(requestId: string): boolean;
  release(handoffId: string): ReleaseResult;
  /** What is held under `handoffId` at `nowMs`, without releasing it; null when nothing is (released, expired, unknown). */
  heldKv(handoffId: string, nowMs: number): HeldKv | null;
  /** Block ids held under `handoffId` at `nowMs`, in prompt order; null when nothing is (released, expired, unknown). */
  heldBlockIds(handoffId: string, nowMs: number): readonly number[] | null;
  /**
   * An asynchronous pull (`pull.start` returned Infinity) has moved its blocks: the request
   * resumes at the next step at or after `nowMs`. False, changing nothing, when `pull` is no
   * longer that request's pull in progress (the request ended or was replaced).
   */
  completePull(requestId: string, pull: PendingPull, nowMs: number): boolean;
  /**
   * An asynchronous pull failed. Under policy "recompute" the request drops the blocks claimed
   * for it and computes its prompt here (usage.kvRecomputed), and null is returned; under "fail"
   * it ends (finish "abort") and its last output is returned for the driver to deliver. Null
   * as well when `pull` is no longer that request's pull in progress.
   */
  failPull(requestId: string, pull: PendingPull, policy: 'recompute' | 'fail'): CoreOutput | null;
  resetPrefixCache(): boolean;
  /** Runs one forward pass at `nowMs`; null when nothing can be scheduled. Expires holds and completes pulls first. */
  step(nowMs: number): CoreStep | null;
  /** Next time something happens without a step (a pull completes, a hold expires), clock ms. */
  nextWakeMs(): number | undefined;
  /** Applies expiries and completed pulls due at `nowMs` without stepping. */
  advanceTimers(nowMs: number): void;
  status(): EngineStatus;
  takeEvents(): readonly KvCacheEvent[];
  /** Aborts every live request and releases every hold (engine shutdown). */
  closeAll(): CoreOutput[];
  /** The block pool, for tests and invariant checks. */
  readonly pool: BlockPool;
}

export function createEngineCore(
  options: ResolvedEngineOptions,
  parts: CoreParts = createSimParts(options),
): EngineCore {
  const { blockSize: B, profile, specialTokens } = options;
  const { executor, transfer } = parts;
  const pool = createBlockPool(options.numBlocks, B);
  const kv = createKvCacheManager(pool, sharedBlockHasher(options.hashSeed), options.enablePrefixCaching);
  const scheduler = createScheduler(kv, options);
  const holds = createHandoffBook(options.numBlocks, options.kvHoldTimeoutMs);
  const eosIds = new Set(specialTokens.eosTokenIds);
  const live = new Map<string, Sequence>();
  const totals = { promptTokens: 0, generationTokens: 0, finished: 0, steps: 0 };
  let handoffSerial = 0;

  /** The hold under `handoffId` if it is live at `nowMs` (an expired one may linger in the book until the next step collects it). */
  const liveHold = (handoffId: string, nowMs: number) => {
    const hold = holds.get(handoffId);
    return hold && hold.expiresAtMs > nowMs ? hold : undefined;
  };

  const usageOf = (seq: Sequence): RequestUsage => ({
    promptTokens: seq.promptLength,
    cachedPromptTokens: seq.cachedPromptTokens,
    completionTokens: seq.numOutput,
    transferredPromptTokens: seq.transferredPromptTokens,
    transferredBlocks: seq.transferredBlocks,
    transferredBytes: seq.transferredBytes,
    kvRecomputed: seq.kvRecomputed,
    preemptions: seq.preemptions,
  });

  /** vLLM's check_stop: length first, then nothing before min_tokens, then EOS and stop ids. */
  const finishReasonOf = (seq: Sequence, token: number): FinishReason | null => {
    const s = seq.sampling;
    if (seq.tokens.length >= options.maxModelLen || seq.numOutput >= s.maxTokens) return 'length';
    if (seq.numOutput < s.minTokens) return null;
    if (!s.ignoreEos && eosIds.has(token)) return 'stop';
    if (s.stopTokenIds?.has(token)) return 'stop';
    return null;
  };

  const end = (seq: Sequence) => {
    seq.state = 'finished';
    live.delete(seq.id);
    totals.finished++;
  };

  const holdForHandoff = (seq: Sequence, nowMs: number): KvHandoff => {
    const handoffId = holds.has(seq.id) ? `${seq.id}#${++handoffSerial}` : seq.id;
    const hold = holds.hold(handoffId, seq.id, seq.blockIds, seq.promptLength, nowMs);
    seq.blockIds = []; // the hold owns the references now
    return transfer.describe({
      engineId: options.engineId,
      handoffId,
      blockIds: hold.blockIds,
      blockSize: B,
      numTokens: hold.numTokens,
      blockBytes: options.blockBytes,
      tpSize: profile.tp,
      expiresAtMs: hold.expiresAtMs,
    });
  };

  /** The live request whose pull in progress is `pull`, if any. */
  const pulling = (requestId: string, pull: PendingPull): Sequence | undefined => {
    const seq = live.get(requestId);
    return seq && seq.state === 'pulling' && seq.pull === pull ? seq : undefined;
  };

  const advanceTimers = (nowMs: number) => {
    for (const hold of holds.takeExpired(nowMs)) kv.freeBlocks(hold.blockIds);
    scheduler.completePulls(nowMs);
  };

  const core: EngineCore = {
    options,
    pool,
    submit(kind, request, nowMs) {
      if (typeof request.requestId !== 'string' || request.requestId === '')
        throw new TandemError('invalid_request', 'request id must be a non-empty string', { param: 'request_id' });
      if (live.has(request.requestId))
        throw new TandemError('invalid_request', `request id "${request.requestId}" is already in use`, {
          param: 'request_id',
        });
      const prompt = request.promptTokenIds;
      validatePrompt(prompt, options.vocabSize);
      const sampling = resolveSampling(request.sampling, (seed, temperature) =>
        seedWordFor(request.requestId, prompt, seed, temperature),
      );
      const total = prompt.length + sampling.maxTokens;
      if (total > options.maxModelLen) {
        throw new TandemError(
          'context_length_exceeded',
          `This model's maximum context length is ${options.maxModelLen} tokens. However, you requested ${total} tokens (${prompt.length} in the prompt, ${sampling.maxTokens} in the completion).`,
          { param: 'max_tokens' },
        );
      }
      const blocksNeeded = Math.ceil((kind === 'prefill' ? prompt.length + 1 : total) / B);
      if (blocksNeeded > options.numBlocks) {
        throw new TandemError(
          'context_length_exceeded',
          `the request needs ${blocksNeeded} KV blocks of ${B} tokens and the engine has ${options.numBlocks}`,
          { param: 'max_tokens' },
        );
      }

      let pull: PendingPull | null = null;
      let kvRecomputed = false;
      let firstTokenId: number | undefined;
      if (kind === 'decode') {
        const decode = request as DecodeRequest;
        if (decode.handoff === null || typeof decode.handoff !== 'object')
          throw new TandemError('invalid_request', 'a decode needs the handoff its prefill returned', {
            param: 'kv_transfer_params',
          });
        firstTokenId = decode.firstTokenId;
        if (firstTokenId !== undefined) validatePrompt([firstTokenId], options.vocabSize, 'first_token_id');
        if (decode.pullAvailable === false) {
          if (decode.loadFailurePolicy === 'fail')
            throw new TandemError(
              'kv_transfer_failed',
              `cannot pull KV for request "${request.requestId}" from engine ${decode.handoff.engineId}`,
              { param: 'kv_transfer_params' },
            );
          kvRecomputed = true;
        } else {
          pull = transfer.plan(decode, prompt.length);
          kvRecomputed = pull === null;
        }
      }
      const seq = createSequence({
        id: request.requestId,
        kind,
        promptTokenIds: prompt,
        sampling,
        arrivalMs: nowMs,
        firstTokenId,
        pull,
        kvRecomputed,
      });
      if (firstTokenId !== undefined) {
        const reason = finishReasonOf(seq, firstTokenId);
        if (reason) {
          totals.finished++;
          return { requestId: seq.id, tokenIds: [], done: true, finishReason: reason, usage: usageOf(seq) };
        }
      }
      // What the cache holds now, so the queued prefill this engine reports is net of it (a waiting
      // prompt counted whole made the worker holding its prefix look several times busier than it is).
      // The hashes are memoised on the sequence: admission reuses them.
      if (pull === null) seq.cachedAtSubmitTokens = kv.findCachedPrefix(seq, prompt.length - 1).length * B;
      live.set(seq.id, seq);
      scheduler.enqueue(seq);
      return null;
    },
    abort(requestId) {
      const seq = live.get(requestId);
      if (!seq) return null;
      scheduler.remove(seq);
      if (seq.pull) {
        // Stop a transfer writing into the blocks freed next.
        seq.pull.abandon?.();
        seq.pull = null;
      }
      kv.free(seq);
      end(seq);
      return { requestId, tokenIds: [], done: true, finishReason: 'abort', usage: usageOf(seq) };
    },
    isLive: (requestId) => live.has(requestId),
    heldKv(handoffId, nowMs) {
      const hold = liveHold(handoffId, nowMs);
      return hold
        ? { handoffId, numBlocks: hold.blockIds.length, numTokens: hold.numTokens, expiresAtMs: hold.expiresAtMs }
        : null;
    },
    heldBlockIds: (handoffId, nowMs) => liveHold(handoffId, nowMs)?.blockIds ?? null,
    completePull(requestId, pull, nowMs) {
      const seq = pulling(requestId, pull);
      if (!seq) return false;
      seq.pullReadyAtMs = nowMs;
      return true;
    },
    failPull(requestId, pull, policy) {
      const seq = pulling(requestId, pull);
      if (!seq) return null;
      scheduler.abandonPull(seq);
      if (policy === 'fail') return core.abort(requestId);
      seq.kvRecomputed = true;
      return null;
    },
    release(handoffId) {
      const hold = holds.take(handoffId);
      if (!hold) return { found: false, releasedBlocks: 0 };
      kv.freeBlocks(hold.blockIds);
      return { found: true, releasedBlocks: hold.blockIds.length };
    },
    resetPrefixCache: () => pool.reset(),
    advanceTimers,
    step(nowMs) {
      advanceTimers(nowMs);
      const batch = scheduler.schedule(nowMs);
      const count = batch.sequences.length;
      if (count === 0) return null;

      const prefill: PrefillChunk[] = [];
      let prefillTokens = 0;
      let decodeSequences = 0;
      let decodeContextTokens = 0;
      for (let i = 0; i < count; i++) {
        const seq = batch.sequences[i]!;
        const tokens = batch.tokens[i]!;
        if (tokens === 1 && isDecoding(seq)) {
          decodeSequences++;
          decodeContextTokens += seq.numComputed;
        } else {
          prefill.push({ newTokens: tokens, contextTokens: seq.numComputed });
          prefillTokens += tokens;
        }
      }
      const timing = executor.forward({
        sequences: batch.sequences,
        tokens: batch.tokens,
        prefill,
        decodeSequences,
        decodeContextTokens,
      });

      const outputs: CoreOutput[] = [];
      for (let i = 0; i < count; i++) {
        const seq = batch.sequences[i]!;
        seq.numComputed += batch.tokens[i]!;
        if (seq.numComputed < seq.tokens.length) continue; // a prefill chunk short of the prompt's end
        const token = executor.sample(seq);
        // Only requests that asked for logprobs carry them (the executor set sampledLogprob).
        const logprobs =
          seq.sampling.shaping.logprobs !== null && seq.sampledLogprob !== null
            ? { logprobs: [seq.sampledLogprob] }
            : undefined;
        seq.tokens.push(token);
        seq.numOutput++;
        if (!seq.sampledHere) {
          seq.sampledHere = true;
          totals.promptTokens += seq.promptLength;
        }
        totals.generationTokens++;
        const reason = finishReasonOf(seq, token);
        // A prefill-only request ends at its first token, holding its blocks for the decode side
        // unless a stop rule ended it; any other ends when a stop rule says so.
        const done = seq.kind === 'prefill' || reason !== null;
        const handoff =
          seq.kind === 'prefill' ? { handoff: reason === 'stop' ? null : holdForHandoff(seq, nowMs) } : undefined;
        if (done) {
          kv.free(seq);
          end(seq);
        }
        outputs.push({
          requestId: seq.id,
          tokenIds: [token],
          done,
          finishReason: reason,
          usage: done ? usageOf(seq) : null,
          ...handoff,
          ...logprobs,
        });
      }
      scheduler.pruneRunning();
      totals.steps++;
      return {
        durationMs: timing.durationMs,
        modelSeconds: timing.modelSeconds,
        outputs,
        sequences: count,
        prefillTokens,
        decodeSequences,
      };
    },
    nextWakeMs() {
      const pull = scheduler.nextPullReadyMs();
      const expiry = holds.nextExpiryMs();
      if (pull === undefined) return expiry;
      return expiry === undefined ? pull : Math.min(pull, expiry);
    },
    status() {
      let queuedPrefillTokens = 0;
      for (const list of [scheduler.waiting, scheduler.running]) {
        for (const seq of list) {
          if (seq.pull) queuedPrefillTokens += seq.tokens.length - seq.pull.coverageTokens;
          else if (!isDecoding(seq))
            queuedPrefillTokens += seq.tokens.length - Math.max(seq.numComputed, seq.cachedAtSubmitTokens);
        }
      }
      const used = pool.usedCount();
      const c = scheduler.counters;
      return {
        totalBlocks: pool.numBlocks,
        usedBlocks: used,
        cachedBlocks: pool.cachedFreeCount(),
        heldBlocks: holds.heldBlocks,
        heldHandoffs: holds.size,
        kvCacheUsage: used / pool.numBlocks,
        runningRequests: scheduler.running.length,
        waitingRequests: scheduler.waiting.length + scheduler.pulling.length,
        queuedPrefillTokens,
        prefixCacheQueriesTokens: c.prefixQueriesTokens,
        prefixCacheHitsTokens: c.prefixHitsTokens,
        promptTokensTotal: totals.promptTokens,
        generationTokensTotal: totals.generationTokens,
        preemptionsTotal: c.preemptions,
        finishedRequestsTotal: totals.finished,
        stepsTotal: totals.steps,
        pulledBlocksTotal: c.pulledBlocks,
        pulledBytesTotal: c.pulledBytes,
      };
    },
    takeEvents: () => pool.takeEvents(),
    closeAll() {
      const outputs: CoreOutput[] = [];
      for (const id of [...live.keys()]) {
        const output = core.abort(id);
        if (output) outputs.push(output);
      }
      for (const hold of holds.takeAll()) kv.freeBlocks(hold.blockIds);
      return outputs;
    },
  };
  return core;
}
