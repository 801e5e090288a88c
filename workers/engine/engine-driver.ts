import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { CoreOutput, CoreStep, EngineCore } from './engine-core.ts';
import type {
  CallOptions,
  DecodeRequest,
  Engine,
  EngineInfo,
  GenerateRequest,
  KvEventSink,
  PrefillOutcome,
  PrefillResult,
  RequestUsage,
  TokenStream,
} from './engine-api.ts';
import type { SequenceKind } from './sequence.ts';
import { createTokenStream, type TokenStreamController } from './token-stream.ts';

/**
 * Runs an engine core on a Clock behind the Engine API; shared by every engine. It steps
 * whenever there is work: runs `core.step`, waits the pass's duration on the clock, then
 * delivers the step's tokens and KV events and starts the next step at once. With nothing to run
 * it idles, waking for the next pull completion or hold expiry, or when a call brings work. Works
 * the same on the real clock (a worker process) and on a virtual clock (tests, the cluster
 * simulator).
 *
 * A step whose end has already passed is delivered at once, up to `maxBurstSteps` in a row
 * without yielding: the simulated engine's passes take modelled time, so at high time scales
 * they fall due back to back. An engine whose passes compute for real (duration 0, the time
 * already spent) sets it to 0, so the event loop turns between every two passes.
 */
export interface EngineDriver extends Engine {
  /** The core, for tests and in-process inspection; do not drive it directly. */
  readonly core: EngineCore;
  /** Work arrived from outside a call (an asynchronous pull completed): step soon if idle. */
  wake(): void;
  /** Delivers an output the core produced outside a step (a failed pull ended its request). */
  emit(output: CoreOutput): void;
  /** Clock ms spent in forward passes since start (a pass in flight counts whole): busy time for load-balance figures. */
  busyMs(): number;
}

export interface EngineDriverDeps {
  readonly clock: Clock;
  readonly logger?: Logger;
}

export interface EngineDriverOptions {
  /** Overdue steps delivered back to back before yielding to the event loop; default 64. */
  readonly maxBurstSteps?: number;
}

type Pending =
  | {
      readonly kind: 'stream';
      readonly controller: TokenStreamController;
      readonly options: CallOptions | undefined;
      cleanup: () => void;
    }
  | {
      readonly kind: 'prefill';
      readonly resolve: (result: PrefillResult) => void;
      readonly reject: (error: TandemError) => void;
      readonly options: CallOptions | undefined;
      cleanup: () => void;
    };

/** Steps delivered back to back without yielding when the clock is already past their end. */
const DEFAULT_MAX_BURST_STEPS = 64;
/** How far behind its own schedule the driver may run before it restarts from the clock's now, ms. */
const MAX_LAG_MS = 20;

const NO_USAGE: RequestUsage = {
  promptTokens: 0,
  cachedPromptTokens: 0,
  completionTokens: 0,
  transferredPromptTokens: 0,
  transferredBlocks: 0,
  transferredBytes: 0,
  kvRecomputed: false,
  preemptions: 0,
};

export function createEngineDriver(
  core: EngineCore,
  info: EngineInfo,
  deps: EngineDriverDeps,
  options: EngineDriverOptions = {},
): EngineDriver {
  const { clock } = deps;
  const logger = deps.logger ?? silentLogger;
  const maxBurstSteps = options.maxBurstSteps ?? DEFAULT_MAX_BURST_STEPS;
  const dataParallelRank = info.dataParallelRank;
  const pending = new Map<string, Pending>();
  const sinks = new Set<KvEventSink>();
  let closed = false;
  let inflight: CoreStep | undefined;
  let kickScheduled = false;
  let cancelKick: (() => void) | undefined;
  let cancelWake: (() => void) | undefined;
  let cancelStep: (() => void) | undefined;
  let busyMs = 0;

  const publishEvents = () => {
    const events = core.takeEvents();
    if (events.length === 0 || sinks.size === 0) return;
    const batch = { ts: clock.now() / 1000, events, dataParallelRank };
    for (const sink of sinks) {
      try {
        sink(batch);
      } catch (error) {
        logger.error({ err: error }, 'KV-event sink failed');
      }
    }
  };

  /** Tells an in-process driver how its prefill ended; a throwing callback is logged, never fatal. */
  const settlePrefill = (callOptions: CallOptions | undefined, outcome: PrefillOutcome) => {
    if (!callOptions?.onPrefillSettled) return;
    try {
      callOptions.onPrefillSettled(outcome);
    } catch (error) {
      logger.error({ err: error }, 'onPrefillSettled callback failed');
    }
  };

  const deliver = (output: CoreOutput) => {
    const entry = pending.get(output.requestId);
    if (!entry) {
      // Cancelled while its last step was in flight: nobody takes what it holds.
      if (output.handoff) core.release(output.handoff.handoffId);
      return;
    }
    if (output.done) {
      pending.delete(output.requestId);
      entry.cleanup();
    }
    if (entry.kind === 'stream') {
      if (entry.options?.onChunk) {
        try {
          entry.options.onChunk(output);
        } catch (error) {
          logger.error({ err: error, requestId: output.requestId }, 'onChunk callback failed');
        }
      }
      entry.controller.push(output);
    } else if (output.done) {
      const firstTokenLogprob = output.logprobs?.[0];
      const result: PrefillResult = {
        requestId: output.requestId,
        firstTokenId: output.tokenIds[0] ?? -1,
        finishReason: output.finishReason,
        usage: output.usage ?? NO_USAGE,
        handoff: output.handoff ?? null,
        ...(firstTokenLogprob ? { firstTokenLogprob } : {}),
      };
      settlePrefill(entry.options, { ok: true, result });
      entry.resolve(result);
    }
  };

  /** Outputs of the step in flight already handed out (the rest are still undelivered). */
  let delivered = 0;
  let stepEndMs = 0;

  const finishStep = (step: CoreStep) => {
    for (delivered = 0; delivered < step.outputs.length; ) deliver(step.outputs[delivered++]!);
    publishEvents();
  };

  const onStepEnd = () => {
    cancelStep = undefined;
    finishStep(inflight!);
    // Start the next pass when this one was due to end, so timer lateness does not add up,
    // unless the process fell far behind (then restart from now rather than race to catch up).
    const now = clock.now();
    runStep(now - stepEndMs > MAX_LAG_MS ? now : stepEndMs);
  };

  /**
   * Runs steps from `startMs` until one ends in the future (then waits for it on the clock) or
   * there is nothing to run (then idles). A step whose end has already passed, as happens on the
   * real clock at high time scales, is delivered at once, up to `maxBurstSteps` in a row.
   */
  const runStep = (startMs: number) => {
    kickScheduled = false;
    for (let burst = 0; !closed; burst++) {
      const step = core.step(startMs);
      if (!step) {
        inflight = undefined;
        publishEvents();
        armWake();
        return;
      }
      inflight = step;
      delivered = 0;
      if (cancelWake) {
        cancelWake();
        cancelWake = undefined;
      }
      stepEndMs = startMs + step.durationMs;
      busyMs += step.durationMs;
      const delayMs = stepEndMs - clock.now();
      if (delayMs > 0 || burst >= maxBurstSteps) {
        cancelStep = clock.setTimer(Math.max(0, delayMs), onStepEnd);
        return;
      }
      finishStep(step);
      startMs = stepEndMs;
    }
  };

  /** Steps soon if idle (a timer at delay 0, so calls at one instant share the first step). */
  const kick = () => {
    if (closed || inflight || kickScheduled) return;
    kickScheduled = true;
    cancelKick = clock.setTimer(0, () => {
      cancelKick = undefined;
      if (!inflight) runStep(clock.now());
      else kickScheduled = false;
    });
  };

  const armWake = () => {
    cancelWake?.();
    cancelWake = undefined;
    const at = core.nextWakeMs();
    if (at === undefined || closed) return;
    cancelWake = clock.setTimer(Math.max(0, at - clock.now()), () => {
      cancelWake = undefined;
      if (!inflight && !kickScheduled) runStep(clock.now());
    });
  };

  /** Ends a request from outside the step loop: cancel, abort, deadline. */
  const cancelRequest = (requestId: string, code: 'cancelled' | 'deadline_exceeded'): boolean => {
    const entry = pending.get(requestId);
    if (!entry) return false;
    pending.delete(requestId);
    entry.cleanup();
    let usage = core.abort(requestId)?.usage ?? null;
    // The step in flight may hold output for it that the caller will now never see.
    const undelivered = inflight?.outputs.find((output, index) => index >= delivered && output.requestId === requestId);
    if (undelivered?.done) {
      usage = undelivered.usage;
      if (undelivered.handoff) core.release(undelivered.handoff.handoffId);
    }
    if (usage && undelivered)
      usage = { ...usage, completionTokens: usage.completionTokens - undelivered.tokenIds.length };
    if (entry.kind === 'stream') {
      const chunk = { tokenIds: [], finishReason: 'abort' as const, usage: usage ?? NO_USAGE };
      entry.options?.onChunk?.(chunk);
      entry.controller.push(chunk);
    } else {
      const error = new TandemError(
        code,
        code === 'cancelled' ? `request "${requestId}" was cancelled` : `request "${requestId}" passed its deadline`,
      );
      settlePrefill(entry.options, { ok: false, error });
      entry.reject(error);
    }
    kick();
    return true;
  };

  /** Wires a request's deadline and abort signal; returns what undoes them. */
  const watch = (requestId: string, request: GenerateRequest, options: CallOptions | undefined): (() => void) => {
    const undo: (() => void)[] = [];
    if (request.deadlineMs !== undefined) {
      undo.push(
        clock.setTimer(Math.max(0, request.deadlineMs - clock.now()), () =>
          cancelRequest(requestId, 'deadline_exceeded'),
        ),
      );
    }
    const signal = options?.signal;
    if (signal) {
      const onAbort = () => cancelRequest(requestId, 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      undo.push(() => signal.removeEventListener('abort', onAbort));
    }
    return () => {
      for (const fn of undo) fn();
    };
  };

  const ensureOpen = (options: CallOptions | undefined) => {
    if (closed) throw new TandemError('unavailable', 'the engine is closed');
    if (options?.signal?.aborted) throw new TandemError('cancelled', 'the request was cancelled before it started');
  };

  const startStream = (
    kind: SequenceKind,
    request: GenerateRequest | DecodeRequest,
    options: CallOptions | undefined,
  ): TokenStream => {
    ensureOpen(options);
    const immediate = core.submit(kind, request, clock.now());
    const requestId = request.requestId;
    const controller = createTokenStream(
      requestId,
      () => cancelRequest(requestId, 'cancelled'),
      options?.onChunk !== undefined,
    );
    const entry: Pending = { kind: 'stream', controller, options, cleanup: () => {} };
    pending.set(requestId, entry);
    if (immediate) {
      clock.setTimer(0, () => deliver(immediate));
    } else {
      entry.cleanup = watch(requestId, request, options);
      kick();
    }
    return controller.stream;
  };

  const engine: EngineDriver = {
    core,
    info,
    busyMs: () => busyMs,
    wake: kick,
    emit(output) {
      deliver(output);
      publishEvents();
      kick();
    },
    generate: (request, options) => startStream('generate', request, options),
    decode: (request, options) => startStream('decode', request, options),
    prefill(request, options) {
      try {
        ensureOpen(options);
        core.submit('prefill', request, clock.now());
      } catch (error) {
        settlePrefill(options, { ok: false, error: error as Error });
        return Promise.reject(error);
      }
      return new Promise<PrefillResult>((resolve, reject) => {
        const entry: Pending = { kind: 'prefill', resolve, reject, options, cleanup: () => {} };
        pending.set(request.requestId, entry);
        entry.cleanup = watch(request.requestId, request, options);
        kick();
      });
    },
    release(handoffId) {
      const result = core.release(handoffId);
      if (result.found) kick();
      return result;
    },
    heldKv: (handoffId) => core.heldKv(handoffId, clock.now()),
    cachedBlockHashes: () => core.pool.cachedHashes(),
    abort: (requestId) => cancelRequest(requestId, 'cancelled'),
    resetPrefixCache() {
      const ok = core.resetPrefixCache();
      publishEvents();
      return ok;
    },
    status: () => core.status(),
    onKvEvents(sink) {
      sinks.add(sink);
      return () => sinks.delete(sink);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const requestId of [...pending.keys()]) cancelRequest(requestId, 'cancelled');
      cancelStep?.();
      cancelWake?.();
      cancelKick?.();
      core.closeAll();
      inflight = undefined;
      publishEvents();
    },
  };
  return engine;
}
