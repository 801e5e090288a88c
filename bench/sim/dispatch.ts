import type { VirtualClock } from '../../common/clock.ts';
import { isTandemError } from '../../common/errors.ts';
import type { Disaggregator } from '../../orchestrator/disagg/index.ts';
import { createBookings, type Booking } from '../../orchestrator/dispatch/index.ts';
import type { LoadBook } from '../../orchestrator/load/index.ts';
import type { KvHandoff, PrefillOutcome, TokenChunk } from '../../workers/engine/index.ts';
import type { RunRecorder } from '../stats/index.ts';
import type { BenchRequest, RequestSource } from '../workloads/index.ts';
import type { Fleet, SimWorker } from './fleet.ts';
import type { IntervalStats } from './interval-stats.ts';
import type { SimLatencies } from './options.ts';

/**
 * The request path of the simulated orchestrator, on the virtual clock. Per request:
 *
 * - at arrival: the disaggregation decision (the routing core inside it) over the routable
 *   workers, committed on the load book;
 * - aggregated: `generate` on the worker after `dispatchMs`; tokens reach the client `tokenMs`
 *   after the engine emits them; the booking's prefill part is released at the first token,
 *   the rest at the end;
 * - disaggregated: `prefill` on the prefill worker (which holds the prompt's blocks); its first
 *   token goes to the client, its result to the orchestrator (`tokenMs`), which releases the
 *   prefill booking and sends `decode` with the handoff to the decode worker (`dispatchMs`).
 *   The decode engine pulls only the blocks missing from its own cache, over the link model.
 *   When its first token comes, the orchestrator tells the prefill worker to release the hold
 *   (`dispatchMs`). Failures release whatever is held.
 *
 * Every request ends exactly once, completed or failed (`timeout`, `unavailable`, `http_400`,
 * `kv_transfer_failed`, ...), and is reported to the recorder and the workload source.
 */
export interface Dispatcher {
  admit(request: BenchRequest): void;
  /** Requests admitted and not yet ended. */
  readonly inFlight: number;
  /** Disaggregated requests so far. */
  readonly disaggregated: number;
  /** The summary of each request class (the id without its serial: `short`, `long`, `chat`, ...), when there are several. */
  classSummaries(finish: Parameters<RunRecorder['finish']>[0]): Record<string, ReturnType<RunRecorder['finish']>> | null;
}

export interface DispatcherOptions {
  readonly clock: VirtualClock;
  readonly fleet: Fleet;
  readonly disagg: Disaggregator;
  readonly load: LoadBook;
  readonly recorder: RunRecorder;
  /** Makes the recorder of one request class (same SLO and block size as `recorder`). */
  readonly classRecorder: () => RunRecorder;
  readonly source: RequestSource;
  readonly intervals: IntervalStats;
  readonly latency: SimLatencies;
  /** A request still running this long after it arrived is cancelled (orchestrator.request_timeout_s), ms. */
  readonly timeoutMs: number;
  /** KV-link profile name decode workers pull over. */
  readonly link: string;
}

/** A live request's client-side view and what it holds. */
interface Live {
  readonly request: BenchRequest;
  /** The request's class recorder. */
  readonly classRecorder: RunRecorder;
  /** The first worker's booking (the prefill worker's when disaggregated) and the decode worker's. */
  readonly bookings: { readonly first: Booking; readonly decode: Booking | null };
  /** Client-side times (the engine's emission + tokenMs), ms. */
  firstTokenMs: number | undefined;
  lastTokenMs: number | undefined;
  outputTokens: number;
  /** Prompt tokens the request's prefill found cached (its prefill worker's, when disaggregated). */
  cachedPromptTokens: number | undefined;
  /** Recorded already: a request ends exactly once. */
  ended: boolean;
}

/** Bookings are touched at most this often while tokens stream (the dispatcher's default), ms. */
const TOUCH_INTERVAL_MS = 1000;

/**
 * Engines take prompts as number arrays; workloads hand out shared Uint32Arrays (a user's repeated
 * prompt is one array). Converted once per array; the engines copy what they keep.
 */
const asNumbers = new WeakMap<Uint32Array, number[]>();
function promptOf(request: BenchRequest): number[] {
  let prompt = asNumbers.get(request.promptTokenIds);
  if (!prompt) {
    // An indexed copy: Array.from walks a typed array through its iterator, several times slower.
    const ids = request.promptTokenIds;
    prompt = new Array<number>(ids.length);
    for (let i = 0; i < ids.length; i++) prompt[i] = ids[i]!;
    asNumbers.set(ids, prompt);
  }
  return prompt;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { clock, fleet, disagg, load, recorder, source, intervals, latency } = options;
  const bookings = createBookings({ load, clock, touchIntervalMs: TOUCH_INTERVAL_MS });
  let inFlight = 0;
  let disaggregated = 0;
  const classes = new Map<string, RunRecorder>();
  const classRecorderOf = (request: BenchRequest): RunRecorder => {
    const name = request.id.replace(/\d+$/, '') || 'request';
    let found = classes.get(name);
    if (!found) classes.set(name, (found = options.classRecorder()));
    return found;
  };

  const finish = (live: Live, ok: boolean, failure?: string) => {
    if (live.ended) return;
    live.ended = true;
    inFlight--;
    const endMs = clock.now() + (ok ? latency.tokenMs : 0);
    const r = live.request;
    const outcome = {
      id: r.id,
      ok,
      failure,
      arrivalMs: r.arrivalMs,
      sentMs: r.arrivalMs,
      firstTokenMs: live.firstTokenMs,
      lastTokenMs: live.lastTokenMs,
      endMs,
      promptTokens: r.promptTokenIds.length,
      sharedPrefixTokens: r.sharedPrefixTokens,
      cachedPromptTokens: live.cachedPromptTokens,
      outputTokens: live.outputTokens,
    };
    recorder.record(outcome);
    live.classRecorder.record(outcome);
    intervals.completed(r, ok, live.outputTokens, live.cachedPromptTokens);
    source.complete(r.id, { atMs: endMs, ok, outputTokens: ok ? live.outputTokens : 0 });
  };

  /** A token batch reached the client `tokenMs` after the engine emitted it. */
  const tokensArrive = (live: Live, count: number) => {
    if (count === 0) return;
    const at = clock.now() + latency.tokenMs;
    if (live.firstTokenMs === undefined) {
      live.firstTokenMs = at;
      intervals.firstToken(live.request, at - live.request.arrivalMs);
    } else {
      recorder.recordItl(at - live.lastTokenMs!, 1);
      live.classRecorder.recordItl(at - live.lastTokenMs!, 1);
      if (count > 1) {
        recorder.recordItl(0, count - 1);
        live.classRecorder.recordItl(0, count - 1);
      }
    }
    live.lastTokenMs = at;
    live.outputTokens += count;
    (live.bookings.decode ?? live.bookings.first).streamed(live.outputTokens);
  };

  const failureOf = (error: unknown): string => {
    if (!isTandemError(error)) return 'internal';
    if (error.code === 'deadline_exceeded') return 'timeout';
    return error.httpStatus === 400 ? 'http_400' : error.code;
  };

  const sampling = (r: BenchRequest) => ({ maxTokens: r.maxOutputTokens, ignoreEos: true });
  const deadline = (r: BenchRequest) => r.arrivalMs + options.timeoutMs;

  /** Ends one side of a request on a worker. */
  const leave = (worker: SimWorker) => {
    worker.assigned--;
  };

  const runAggregated = (live: Live, worker: SimWorker) => {
    const r = live.request;
    worker.assigned++;
    clock.setTimer(latency.dispatchMs, () => {
      try {
        worker.engine.generate(
          { requestId: r.id, promptTokenIds: promptOf(r), sampling: sampling(r), deadlineMs: deadline(r) },
          {
            onChunk: (chunk: TokenChunk) => {
              tokensArrive(live, chunk.tokenIds.length);
              if (chunk.tokenIds.length > 0) live.bookings.first.firstToken();
              if (chunk.finishReason === null) return;
              live.bookings.first.release();
              leave(worker);
              live.cachedPromptTokens = chunk.usage?.cachedPromptTokens;
              if (chunk.finishReason === 'abort') finish(live, false, clock.now() >= deadline(r) ? 'timeout' : 'cancelled');
              else finish(live, true);
            },
          },
        );
      } catch (error) {
        live.bookings.first.release();
        leave(worker);
        finish(live, false, failureOf(error));
      }
    });
  };

  const runDisaggregated = (live: Live, prefillWorker: SimWorker, decodeWorker: SimWorker) => {
    const r = live.request;
    prefillWorker.assigned++;
    decodeWorker.assigned++;
    const failDecodeSide = (failure: string) => {
      live.bookings.decode!.release();
      leave(decodeWorker);
      finish(live, false, failure);
    };
    const onPrefill = (outcome: PrefillOutcome) => {
      // The prefill's first token streams to the client; its result reaches the orchestrator.
      if (outcome.ok) {
        tokensArrive(live, 1);
        live.cachedPromptTokens = outcome.result.usage.cachedPromptTokens;
      }
      clock.setTimer(latency.tokenMs, () => {
        live.bookings.first.firstToken();
        live.bookings.first.release();
        leave(prefillWorker);
        if (!outcome.ok) return failDecodeSide(failureOf(outcome.error));
        const { result } = outcome;
        if (result.handoff === null || result.finishReason !== null) {
          // The first token ended the request (a stop token, or max_tokens 1): nothing to decode.
          if (result.handoff) prefillWorker.engine.release(result.handoff.handoffId);
          live.bookings.decode!.release();
          leave(decodeWorker);
          return finish(live, true);
        }
        startDecode(live, prefillWorker, decodeWorker, result.handoff, result.firstTokenId);
      });
    };
    clock.setTimer(latency.dispatchMs, () => {
      const promise = prefillWorker.engine.prefill(
        { requestId: r.id, promptTokenIds: promptOf(r), sampling: sampling(r), deadlineMs: deadline(r) },
        { onPrefillSettled: onPrefill },
      );
      promise.catch(() => {}); // settled through onPrefillSettled
    });
  };

  const startDecode = (live: Live, prefillWorker: SimWorker, decodeWorker: SimWorker, handoff: KvHandoff, firstTokenId: number) => {
    const r = live.request;
    let released = false;
    const releaseHold = () => {
      if (released) return;
      released = true;
      clock.setTimer(latency.dispatchMs, () => prefillWorker.engine.release(handoff.handoffId));
    };
    clock.setTimer(latency.dispatchMs, () => {
      try {
        decodeWorker.engine.decode(
          { requestId: r.id, promptTokenIds: promptOf(r), sampling: sampling(r), deadlineMs: deadline(r), handoff, firstTokenId, link: options.link },
          {
            onChunk: (chunk: TokenChunk) => {
              // The pull is done once the decode worker emits anything: the prefill side may free its blocks.
              releaseHold();
              tokensArrive(live, chunk.tokenIds.length);
              if (chunk.finishReason === null) return;
              live.bookings.decode!.release();
              leave(decodeWorker);
              if (chunk.finishReason === 'abort') finish(live, false, clock.now() >= deadline(r) ? 'timeout' : 'cancelled');
              else finish(live, true);
            },
          },
        );
      } catch (error) {
        releaseHold();
        live.bookings.decode!.release();
        leave(decodeWorker);
        finish(live, false, failureOf(error));
      }
    });
  };

  return {
    get inFlight() {
      return inFlight;
    },
    get disaggregated() {
      return disaggregated;
    },
    classSummaries(finish) {
      if (classes.size < 2) return null;
      const out: Record<string, ReturnType<RunRecorder['finish']>> = {};
      for (const [name, recorder] of [...classes].sort(([a], [b]) => a.localeCompare(b))) out[name] = recorder.finish(finish);
      return out;
    },
    admit(request) {
      inFlight++;
      intervals.arrival(request);
      const candidates = fleet.candidates();
      const decision = disagg.decide({ requestId: request.id, tokenIds: promptOf(request), maxTokens: request.maxOutputTokens, sessionKey: request.sessionKey }, candidates);
      let booked: Live['bookings'];
      try {
        const ids = disagg.commit(decision);
        const shape = (id: string) => ({ promptTokens: request.promptTokenIds.length, blockSize: fleet.get(id).candidate.blockSize });
        const firstId = decision.disaggregate ? decision.prefillWorkerId! : decision.workerId!;
        booked = { first: bookings.adopt(firstId, ids.first, shape(firstId)), decode: ids.decode === null ? null : bookings.adopt(decision.decodeWorkerId!, ids.decode, shape(decision.decodeWorkerId!)) };
      } catch (error) {
        const live: Live = { request, classRecorder: classRecorderOf(request), bookings: { first: bookings.adopt('', -1, { promptTokens: 0, blockSize: 1 }), decode: null }, firstTokenMs: undefined, lastTokenMs: undefined, outputTokens: 0, cachedPromptTokens: undefined, ended: false };
        return finish(live, false, failureOf(error));
      }
      const live: Live = { request, classRecorder: classRecorderOf(request), bookings: booked, firstTokenMs: undefined, lastTokenMs: undefined, outputTokens: 0, cachedPromptTokens: undefined, ended: false };
      if (decision.disaggregate) {
        disaggregated++;
        runDisaggregated(live, fleet.get(decision.prefillWorkerId!), fleet.get(decision.decodeWorkerId!));
      } else {
        runAggregated(live, fleet.get(decision.workerId!));
      }
    },
  };
}
