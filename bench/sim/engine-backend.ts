import type { Clock } from '../../common/clock.ts';
import { TandemError, toTandemError } from '../../common/errors.ts';
import { usageCounts } from '../../common/usage.ts';
import type {
  BackendChunk,
  BackendPrefillResult,
  DecodeCall,
  GenerateCall,
  KvHandoffTicket,
  WorkerBackend,
  WorkerStatusReport,
} from '../../orchestrator/backends/index.ts';
import type { KvHandoff, SamplingParams, SimEngine, TokenChunk as EngineChunk } from '../../workers/engine/index.ts';

/**
 * A simulated engine as the dispatcher's WorkerBackend (kind `grpc`, so disaggregated requests
 * take Tandem's own handoff protocol), on the simulator's virtual clock. Every call reaches the
 * engine `dispatchMs` after it is made (the orchestrator-to-worker hop); chunks are delivered as
 * the engine's step emits them, and a prefill's result as the engine settles it (the simulated
 * clients add their own token latency, `clients.ts`); a release reaches the engine after
 * `dispatchMs`. Handoffs travel as the engine's KvHandoff inside a `tandem` ticket; as Tandem's
 * workers do, the decode side frees the prefill side's hold once its pull is done (its first
 * chunk), a hop later; the dispatcher's own release at the end then finds nothing.
 *
 * `onDeliver` is called whenever a promise this backend settles may let async code continue:
 * the simulator's loop then lets promise continuations run before firing the next timer.
 */
export interface EngineBackendOptions {
  readonly engine: SimEngine;
  readonly clock: Clock;
  readonly dispatchMs: number;
  /** KV-link profile name decode workers pull over. */
  readonly link: string;
  readonly onDeliver: () => void;
  /** The engine of another worker by engine id: a decode worker releases the prefill side's hold once its pull is done, as Tandem's workers do. */
  readonly peer: (engineId: string) => SimEngine | undefined;
}

/** Prompts arrive as readonly arrays; the engine takes number[] and copies what it keeps. */
const promptOf = (tokenIds: readonly number[]) => tokenIds as number[];

const samplingOf = (call: GenerateCall): SamplingParams => {
  const s = call.sampling;
  return {
    maxTokens: s.maxTokens,
    temperature: s.temperature,
    topP: s.topP,
    seed: s.seed,
    stopTokenIds: s.stopTokenIds,
    ignoreEos: s.ignoreEos,
    minTokens: s.minTokens,
  };
};

/**
 * An async iterable fed by callbacks: chunks are buffered until pulled; `fail` ends it with an
 * error; the consumer leaving early (or the signal) calls `onCancel`.
 */
function createChunkChannel(signal: AbortSignal, onDeliver: () => void, onCancel: () => void) {
  const buffered: BackendChunk[] = [];
  let failure: unknown;
  let ended = false;
  let waiting: { resolve: (r: IteratorResult<BackendChunk>) => void; reject: (e: unknown) => void } | null = null;
  const settle = () => {
    if (!waiting) return;
    const w = waiting;
    if (buffered.length > 0) {
      waiting = null;
      w.resolve({ value: buffered.shift()!, done: false });
      onDeliver();
    } else if (failure !== undefined) {
      waiting = null;
      w.reject(failure);
      onDeliver();
    } else if (ended) {
      waiting = null;
      w.resolve({ value: undefined, done: true });
      onDeliver();
    }
  };
  const onAbort = () => {
    if (ended) return;
    failure = toTandemError(signal.reason, 'cancelled');
    ended = true;
    onCancel();
    settle();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    push(chunk: BackendChunk) {
      if (ended) return;
      buffered.push(chunk);
      if (chunk.finishReason !== undefined) {
        ended = true;
        signal.removeEventListener('abort', onAbort);
      }
      settle();
    },
    fail(error: unknown) {
      if (ended) return;
      failure = error;
      ended = true;
      signal.removeEventListener('abort', onAbort);
      settle();
    },
    iterable: {
      /** One chunk per engine step is what a stream has buffered: the dispatcher's coalescing (an event-loop turn, not virtual time) is skipped. */
      coalesced: true,
      [Symbol.asyncIterator]: (): AsyncIterator<BackendChunk> => ({
        next: () =>
          new Promise<IteratorResult<BackendChunk>>((resolve, reject) => {
            waiting = { resolve, reject };
            settle();
          }),
        return: () => {
          if (!ended) {
            ended = true;
            signal.removeEventListener('abort', onAbort);
            onCancel();
          }
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    } satisfies AsyncIterable<BackendChunk> & { coalesced: true },
  };
}

export function createEngineBackend(options: EngineBackendOptions): WorkerBackend {
  const { engine, clock, dispatchMs, onDeliver } = options;

  /** Runs `start` on the engine after the dispatch hop, streaming its chunks through a channel. */
  const stream = (
    call: GenerateCall,
    signal: AbortSignal,
    start: (onChunk: (chunk: EngineChunk) => void) => void,
  ): AsyncIterable<BackendChunk> => {
    let started = false;
    const channel = createChunkChannel(signal, onDeliver, () => {
      if (started) engine.abort(call.requestId);
    });
    clock.setTimer(dispatchMs, () => {
      if (signal.aborted) return;
      started = true;
      try {
        start((chunk) => {
          if (chunk.finishReason === null) return channel.push({ tokenIds: chunk.tokenIds });
          if (chunk.finishReason === 'abort' && !signal.aborted) {
            const reason =
              clock.now() >= call.deadlineUnixMs
                ? new TandemError('deadline_exceeded', 'the request reached its deadline on the worker')
                : new TandemError('upstream_error', 'the worker aborted the request');
            if (chunk.tokenIds.length > 0) channel.push({ tokenIds: chunk.tokenIds });
            return channel.fail(reason);
          }
          channel.push({
            tokenIds: chunk.tokenIds,
            finishReason: chunk.finishReason,
            usage: usageCounts(chunk.usage!),
          });
        });
      } catch (error) {
        channel.fail(toTandemError(error, 'internal'));
      }
    });
    return channel.iterable;
  };

  return {
    kind: 'grpc',
    address: `sim:${engine.info.engineId}`,

    generate(call, signal) {
      return stream(call, signal, (onChunk) => {
        engine.generate(
          {
            requestId: call.requestId,
            promptTokenIds: promptOf(call.tokenIds),
            sampling: samplingOf(call),
            deadlineMs: call.deadlineUnixMs,
          },
          { onChunk },
        );
      });
    },

    prefill(call, signal) {
      return new Promise<BackendPrefillResult>((resolve, reject) => {
        let started = false;
        let done = false;
        const finish = (settle: () => void) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          settle();
          onDeliver();
        };
        const onAbort = () => {
          if (started) engine.abort(call.requestId);
          finish(() => reject(toTandemError(signal.reason, 'cancelled')));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        clock.setTimer(dispatchMs, () => {
          if (done) return;
          started = true;
          const promise = engine.prefill(
            {
              requestId: call.requestId,
              promptTokenIds: promptOf(call.tokenIds),
              sampling: samplingOf(call),
              deadlineMs: call.deadlineUnixMs,
            },
            {
              onPrefillSettled: (outcome) => {
                if (!outcome.ok) return finish(() => reject(toTandemError(outcome.error, 'upstream_error')));
                const r = outcome.result;
                const handoff: KvHandoffTicket | null = r.handoff
                  ? { kind: 'tandem', handoff: r.handoff, remoteRequestId: r.handoff.handoffId }
                  : null;
                if (done && r.handoff) engine.release(r.handoff.handoffId); // cancelled meanwhile: nobody will pull
                finish(() =>
                  resolve({
                    firstTokenId: r.firstTokenId,
                    finishReason: r.finishReason,
                    usage: usageCounts(r.usage),
                    handoff,
                  }),
                );
              },
            },
          );
          promise.catch(() => {}); // settled through onPrefillSettled
        });
      });
    },

    decode(call: DecodeCall, signal) {
      const ticket = call.handoff;
      const handoff = ticket.kind === 'tandem' && ticket.remoteRequestId !== '' ? (ticket.handoff as KvHandoff) : null;
      let pulled = false;
      return stream(call, signal, (deliver) => {
        const onChunk = (chunk: EngineChunk) => {
          if (!pulled && handoff) {
            pulled = true;
            clock.setTimer(dispatchMs, () => options.peer(handoff.engineId)?.release(handoff.handoffId));
          }
          deliver(chunk);
        };
        engine.decode(
          {
            requestId: call.requestId,
            promptTokenIds: promptOf(call.tokenIds),
            sampling: samplingOf(call),
            deadlineMs: call.deadlineUnixMs,
            handoff: handoff ?? ({} as KvHandoff),
            pullAvailable: handoff !== null,
            firstTokenId: call.firstTokenId,
            link: options.link,
            ...(call.loadFailurePolicy ? { loadFailurePolicy: call.loadFailurePolicy } : {}),
          },
          { onChunk },
        );
      });
    },

    release(ticket) {
      if (ticket.kind !== 'tandem' || ticket.remoteRequestId === '')
        return Promise.resolve({ found: false, releasedBlocks: 0 });
      // Fire and forget after the hop: what the engine frees does not change what the caller does next.
      clock.setTimer(dispatchMs, () => engine.release(ticket.remoteRequestId));
      return Promise.resolve({ found: true, releasedBlocks: 0 });
    },

    status(): Promise<WorkerStatusReport> {
      return Promise.reject(
        new TandemError('internal', 'the simulator polls engine status itself (bench/sim/fleet.ts)'),
      );
    },

    close: () => engine.close(),
  };
}
