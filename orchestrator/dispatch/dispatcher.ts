import type { Clock } from '../../common/clock.ts';
import { isTandemError, TandemError, toTandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { kvCapacityBlocks, linkProfile, type EngineProfile } from '../../common/profiles/index.ts';
import { createHandoffProtocols, refusalOf, type HandoffProtocols } from '../backends/index.ts';
import { createDisaggregator, type DisaggDecision, type DisaggOptions, type Disaggregator } from '../disagg/index.ts';
import type { Fleet } from '../discovery/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { Candidate, CandidateReport, RoutingCore, RoutingDecision } from '../routing/index.ts';
import type { GenerationEvent, Readiness, ServingCore, TokenizedRequest } from '../serving.ts';
import { createBookings } from './booking.ts';
import { createCapacityQueue, type CapacityQueue } from './capacity-queue.ts';
import { createTtftEstimate } from './wait-budget.ts';
import { protocolOf, routeRequestOf, type DispatchContext, type Progress } from './context.ts';
import { isRetryable } from './failures.ts';
import { streamAggregated, type AggregatedRun } from './serve-aggregated.ts';
import { streamDisaggregated, type DisaggregatedRun } from './serve-disaggregated.ts';

export interface DispatcherOptions {
  readonly fleet: Fleet;
  readonly routing: RoutingCore;
  readonly metrics: OrchestratorMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Model names served (the frontend checks requests against them). */
  readonly models: readonly string[];
  readonly limits: {
    /** In-flight requests at which a worker (tenant) is saturated. */
    readonly maxInflightPerWorker: number;
    /** Queued prefill tokens at which a worker (tenant) is saturated. */
    readonly maxQueuedPrefillTokensPerWorker: number;
    /**
     * Share of a worker's KV blocks (its profile's `kvCapacityBlocks`) at which it is saturated:
     * the blocks in use (reported, plus booked since) and the new blocks of the request being
     * placed. Default 1 (only the physical limit).
     */
    readonly maxKvUsage?: number;
    readonly retryBeforeFirstToken: boolean;
  };
  /**
   * The admission queue (capacity-queue.ts). `maxQueued` undefined: the fleet's in-flight
   * capacity (decode-capable tenants x limits.maxInflightPerWorker), read at each arrival.
   * `retryAfterS`: Retry-After of the dispatcher's own 503s (no healthy worker, shutting down).
   */
  readonly queue: {
    readonly maxQueued?: number | undefined;
    readonly timeoutMs: number;
    /** Waiting budget = waitFactor x the fleet's placed-to-first-token time (wait-budget.ts), at most timeoutMs. Default 2. */
    readonly waitFactor?: number;
    readonly retryAfterS: number;
    readonly pollMs?: number;
  };
  /**
   * The disaggregation decision's options (`disaggOptionsFromConfig`) and the router's block-hash
   * seed. Default: mode `never` (every request aggregated on a decode-capable worker).
   */
  readonly disaggregation?: {
    readonly options: DisaggOptions;
    readonly hashSeed: number;
    readonly decodeRetries?: number;
  };
  /** The KV handoff protocols (default: every registered one, ids from node:crypto). */
  readonly protocols?: HandoffProtocols;
  /** Seconds on a monotonic stopwatch, for the router-decision histogram only. Default performance.now. */
  readonly stopwatch?: () => number;
  /** How often a streaming request refreshes its booking (lost-stream expiry, growing KV), ms. Default 1000. */
  readonly touchIntervalMs?: number;
}

/** The ServingCore of a running orchestrator, plus what shutdown and the planner need. */
export interface Dispatcher extends ServingCore {
  /** Requests inside generate() now (queued or running). */
  readonly inflight: number;
  /** Requests waiting for a worker with room. */
  readonly queued: number;
  /** The `auto` disaggregation threshold in force, tokens. */
  readonly thresholdTokens: number;
  /** Retunes the `auto` threshold (the planner's recommendation); throws invalid_request on a negative or non-finite value. */
  setThresholdTokens(tokens: number): void;
  /** Stops admitting: new requests and queued ones get 503; running ones continue. */
  drain(): void;
  /** Resolves when no request is inside generate(). */
  idle(): Promise<void>;
}

type Attempt =
  | { readonly kind: 'aggregated'; readonly run: AggregatedRun }
  | { readonly kind: 'disaggregated'; readonly run: DisaggregatedRun }
  | { readonly kind: 'saturated' }
  | { readonly kind: 'refused'; readonly error: TandemError }
  | { readonly kind: 'none'; readonly reason: string };
type Placed = Extract<Attempt, { kind: 'aggregated' | 'disaggregated' }>;

/** Without disaggregation options: every request aggregated on a decode-capable worker. */
const NEVER: DisaggOptions = {
  mode: 'never',
  thresholdTokens: 0,
  stallWeight: 1,
  ttftTargetSeconds: 1,
  link: linkProfile('ib-400g'),
  decodeWeight: 1,
  transferWeight: 1,
  queueWeight: 1,
  decodeHorizonTokens: 64,
  tieToleranceSeconds: 0,
};

/**
 * Serves requests over a fleet of workers of every role. Per request: the disaggregation
 * decision (orchestrator/disagg: aggregated on the best decode-capable worker, or a prefill
 * worker by KV overlap and a decode worker by load plus transfer), timed into
 * tandem_router_decision_seconds; commit the bookings; stream (serve-aggregated.ts,
 * serve-disaggregated.ts, which release every booking however the request ends). A worker
 * failing before anything reached the client gets the request retried once elsewhere; after
 * that the failure ends the stream. Aborting the request's signal cancels every worker call;
 * the request's deadline aborts it with deadline_exceeded. When every eligible worker is
 * saturated the request waits in the one admission queue (see capacity-queue.ts).
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { fleet, routing, metrics, clock, limits } = options;
  const logger = options.logger;
  const stopwatch = options.stopwatch ?? (() => performance.now() / 1000);
  const fleetCapacity = () =>
    Math.max(1, fleet.candidates().filter((c) => c.role !== 'prefill').length * limits.maxInflightPerWorker);
  /** What the fleet takes from placing a request to its first event, ms: the waiting budget follows it. */
  const fleetTtft = createTtftEstimate();
  const queue: CapacityQueue = createCapacityQueue({
    maxQueued: options.queue.maxQueued ?? fleetCapacity,
    timeoutMs: options.queue.timeoutMs,
    ttftMs: () => fleetTtft.estimateMs(),
    ...(options.queue.waitFactor === undefined ? {} : { waitFactor: options.queue.waitFactor }),
    clock,
    ...(options.queue.pollMs === undefined ? {} : { pollMs: options.queue.pollMs }),
    onDepth: (n) => metrics.setQueueDepth(n),
  });
  fleet.onChange(() => queue.wake());
  const disagg: Disaggregator = createDisaggregator({
    ...routing,
    clock,
    hashSeed: options.disaggregation?.hashSeed ?? 0,
    options: options.disaggregation?.options ?? NEVER,
  });
  let inflight = 0;
  let draining = false;
  const idleWaiters: (() => void)[] = [];

  const unavailable = (reason: string) =>
    new TandemError('unavailable', reason, { retryAfterS: options.queue.retryAfterS });
  /**
   * The router's own bookings are a floor: every booked request is really on the worker until
   * released, while a report may predate requests the worker has not picked up yet (the
   * corrected figure then counts them as gone). Reports add what the router did not book.
   */
  const kvUsage = limits.maxKvUsage ?? 1;
  const kvBlocks = new Map<EngineProfile, Map<number, number>>();
  /** KV blocks of a worker's profile at its block size, memoised. */
  const capacityBlocks = (c: Candidate): number => {
    let bySize = kvBlocks.get(c.profile);
    if (!bySize) kvBlocks.set(c.profile, (bySize = new Map()));
    let blocks = bySize.get(c.blockSize);
    if (blocks === undefined) bySize.set(c.blockSize, (blocks = kvCapacityBlocks(c.profile, c.blockSize)));
    return blocks;
  };
  /** KV blocks the request would allocate on a candidate: its tokens not cached there. */
  const newBlocksOf = (report: CandidateReport): number => Math.ceil(report.newTokens / report.blockSize);
  /**
   * Past capacity: one more request would exceed the worker's in-flight or queued-prefill bound,
   * or the share of its KV its requests may hold (with the `newBlocks` the request being placed
   * would allocate), so the engine would evict the cached prefixes its next requests hit.
   */
  const saturated = (c: Candidate, nowMs: number, newBlocks = 0): boolean => {
    const load = routing.load.load(c.id, nowMs);
    const inflight = Math.max(load.inflightRequests, load.booked.inflightRequests);
    const queued = Math.max(load.queuedPrefillTokens, load.booked.queuedPrefillTokens);
    return (
      inflight >= limits.maxInflightPerWorker ||
      queued >= limits.maxQueuedPrefillTokensPerWorker ||
      load.activeDecodeBlocks + newBlocks > kvUsage * capacityBlocks(c)
    );
  };
  const touchIntervalMs = options.touchIntervalMs ?? 1000;
  const ctx: DispatchContext = {
    fleet,
    routing,
    disagg,
    bookings: createBookings({
      load: routing.load,
      clock,
      touchIntervalMs,
      onChange: (tenant) => fleet.publishLoad(tenant),
    }),
    protocols: options.protocols ?? createHandoffProtocols({ logger }),
    metrics,
    logger,
    clock,
    decodeRetries: options.disaggregation?.decodeRetries ?? 1,
    open: (nowMs) => fleet.candidates().filter((c) => !saturated(c, nowMs)),
    wake: () => queue.wake(),
  };
  const warnedPairs = new Set<string>();
  /** The router's tie-break check: one more request, with the blocks it would allocate, fits on the worker now. */
  const roomFor =
    (pool: readonly Candidate[]) =>
    (report: CandidateReport): boolean => {
      const candidate = pool.find((c) => c.id === report.id);
      return candidate !== undefined && !saturated(candidate, clock.now(), newBlocksOf(report));
    };

  /** The decision over `open`; a pair whose protocols differ cannot hand off, so that request stays aggregated. */
  function decide(
    request: TokenizedRequest,
    open: readonly Candidate[],
  ): { decision: DisaggDecision; pair: DisaggregatedRun['protocol'] | null } {
    const routeRequest = routeRequestOf(request);
    // One token: nothing to hand off, so no prefill worker is considered.
    const pool = request.sampling.maxTokens <= 1 ? open.filter((c) => c.role !== 'prefill') : open;
    const decision = disagg.decide(routeRequest, pool, { hasRoom: roomFor(pool) });
    if (!decision.disaggregate) return { decision, pair: null };
    const P = fleet.placement(decision.prefillWorkerId!);
    const D = fleet.placement(decision.decodeWorkerId!);
    const pp = P && protocolOf(ctx, P);
    const dp = D && protocolOf(ctx, D);
    if (pp && dp && pp.name === dp.name) return { decision, pair: pp };
    const key = `${decision.prefillWorkerId}->${decision.decodeWorkerId}`;
    if (!warnedPairs.has(key)) {
      warnedPairs.add(key);
      logger.warn(
        {
          prefill: decision.prefillWorkerId,
          decode: decision.decodeWorkerId,
          prefillProtocol: pp?.name ?? null,
          decodeProtocol: dp?.name ?? null,
        },
        'these workers speak different KV handoff protocols: serving aggregated',
      );
    }
    const aggregatedPool = pool.filter((c) => c.role !== 'prefill');
    return {
      decision: disagg.decide(routeRequest, aggregatedPool, { hasRoom: roomFor(aggregatedPool) }),
      pair: null,
    };
  }

  function attempt(request: TokenizedRequest, excluded: ReadonlySet<string>): Attempt {
    let candidates: readonly Candidate[] = fleet.candidates();
    if (excluded.size > 0)
      candidates = candidates.filter((c) => !excluded.has(fleet.placement(c.id)?.worker.name ?? ''));
    if (!candidates.some((c) => c.role !== 'prefill')) {
      return {
        kind: 'none',
        reason:
          excluded.size > 0
            ? `no other healthy worker to retry on (${fleet.readiness().detail})`
            : `no healthy worker can serve the request: ${fleet.readiness().detail}`,
      };
    }
    // Every healthy worker is weighed by cost; the cheapest past capacity means waiting at the
    // door for it (or for a cheaper one to free up), not sending the request where it costs more.
    const now = clock.now();
    const started = stopwatch();
    const { decision, pair } = decide(request, candidates);
    metrics.observeRouterDecision(Math.max(0, stopwatch() - started));
    if (!decision.disaggregate && decision.workerId === null) return { kind: 'none', reason: decision.reason };
    const ids = decision.disaggregate ? [decision.prefillWorkerId!, decision.decodeWorkerId!] : [decision.workerId!];
    const reports = [decision.disaggregate ? decision.prefill : decision.aggregated, decision.aggregated];
    for (let i = 0; i < ids.length; i++) {
      const candidate = candidates.find((c) => c.id === ids[i]);
      const report = reports[i]?.candidates.find((c) => c.id === ids[i]);
      if (candidate && saturated(candidate, now, report ? newBlocksOf(report) : 0)) return { kind: 'saturated' };
    }
    const placements = ids.map((id) => fleet.placement(id));
    const missing = ids.find((_, i) => placements[i] === undefined);
    if (missing !== undefined) return { kind: 'none', reason: `worker ${missing} left the fleet` };
    // A field the chosen backend cannot honour is a 400 naming it, before anything is booked.
    for (const placement of placements) {
      const refusal = refusalOf(request, placement!.worker.backend.kind, placement!.worker.name);
      if (refusal) return { kind: 'refused', error: refusal };
    }
    const bookings = disagg.commit(decision);
    for (const id of ids) fleet.publishLoad(id);
    const promptTokens = request.promptTokenIds.length;
    const blockSizeOf = (id: string, report: RoutingDecision | null) =>
      report?.candidates.find((c) => c.id === id)?.blockSize ?? 16;
    if (decision.disaggregate) {
      const first = ctx.bookings.adopt(ids[0]!, bookings.first, {
        promptTokens,
        blockSize: blockSizeOf(ids[0]!, decision.prefill),
      });
      const decode = ctx.bookings.adopt(ids[1]!, bookings.decode!, {
        promptTokens,
        blockSize: blockSizeOf(ids[1]!, decision.aggregated),
      });
      return {
        kind: 'disaggregated',
        run: {
          prefill: placements[0]!,
          decode: placements[1]!,
          bookings: { first, decode },
          decision,
          protocol: pair!,
        },
      };
    }
    const chosen = decision.aggregated!.candidates.find((c) => c.id === decision.workerId);
    const booking = ctx.bookings.adopt(ids[0]!, bookings.first, { promptTokens, blockSize: chosen?.blockSize ?? 16 });
    return { kind: 'aggregated', run: { placement: placements[0]!, booking, cachedTokens: chosen?.cachedTokens ?? 0 } };
  }

  /** Places the request, waiting in the admission queue if it must; adds the time waited there to `waited.ms`. */
  async function place(
    request: TokenizedRequest,
    excluded: ReadonlySet<string>,
    signal: AbortSignal,
    waited: { ms: number },
  ): Promise<Placed> {
    // Arrivals wait behind those already queued (FIFO), so they do not try first.
    if (queue.length === 0) {
      const first = attempt(request, excluded);
      if (first.kind === 'aggregated' || first.kind === 'disaggregated') {
        queue.placed();
        return first;
      }
      if (first.kind === 'none') throw unavailable(first.reason);
      if (first.kind === 'refused') throw first.error;
    }
    const ticket = queue.ticket();
    for (;;) {
      if (draining) throw unavailable('the orchestrator is shutting down');
      const askedAtMs = clock.now();
      try {
        await queue.waitTurn(ticket, signal);
      } finally {
        waited.ms += clock.now() - askedAtMs;
      }
      const next = attempt(request, excluded);
      // Pass the turn on: there may be room for more, or (saturated) for a request behind this
      // one whose cheapest worker differs (no head-of-line blocking).
      queue.wake(next.kind === 'saturated' ? ticket : undefined);
      if (next.kind === 'aggregated' || next.kind === 'disaggregated') {
        queue.placed();
        return next;
      }
      if (next.kind === 'none') throw unavailable(next.reason);
      if (next.kind === 'refused') throw next.error;
    }
  }

  return {
    models: () => options.models,

    refusal: () => (draining ? unavailable('the orchestrator is shutting down') : queue.refusal()),

    async *generate(request, signal) {
      if (draining) throw unavailable('the orchestrator is shutting down');
      if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
      const abort = new AbortController();
      const forward = () => abort.abort(signal.reason);
      signal.addEventListener('abort', forward, { once: true });
      const remainingMs = request.deadlineUnixMs - clock.now();
      const cancelDeadline =
        Number.isFinite(remainingMs) && remainingMs < 2 ** 31
          ? clock.setTimer(Math.max(0, remainingMs), () =>
              abort.abort(new TandemError('deadline_exceeded', 'the request reached its deadline')),
            )
          : () => {};
      inflight++;
      // The attempts run here, not in a generator of their own: one generator layer (a promise
      // and a resumption per streamed chunk) less between the worker and the client. Each
      // attempt returns (not yields) its final event, so that every booking and lease is
      // released before this yields it: a consumer may stop pulling right after the final
      // event, and a suspended generator never reaches its finally blocks.
      let done: GenerationEvent;
      const excluded = new Set<string>();
      const progress: Progress = { streamed: 0, failedWorker: undefined, firstEventMs: undefined };
      let previousFailure: TandemError | undefined;
      /** Time spent waiting in the admission queue, ms (every attempt's), and when the last attempt was placed. */
      const queued = { ms: 0 };
      let placedAtMs: number | undefined;
      try {
        for (;;) {
          let placed: Placed;
          try {
            placed = await place(request, excluded, abort.signal, queued);
            placedAtMs = clock.now();
          } catch (error) {
            if (abort.signal.aborted) throw toTandemError(abort.signal.reason, 'cancelled');
            // A retry that finds nowhere to go reports the failure that caused it.
            if (previousFailure && isTandemError(error) && error.code === 'unavailable') throw previousFailure;
            throw error;
          }
          progress.failedWorker = undefined;
          try {
            done =
              placed.kind === 'aggregated'
                ? yield* streamAggregated(ctx, request, placed.run, abort.signal, progress)
                : yield* streamDisaggregated(ctx, request, placed.run, abort.signal, progress);
            break;
          } catch (error) {
            const failure = toTandemError(error, 'upstream_error');
            if (abort.signal.aborted) throw failure;
            const failed = progress.failedWorker;
            if (
              progress.streamed === 0 &&
              excluded.size === 0 &&
              failed !== undefined &&
              limits.retryBeforeFirstToken &&
              isRetryable(failure.code)
            ) {
              logger.warn(
                { requestId: request.requestId, worker: failed, code: failure.code, err: failure.message },
                'worker failed before the first token: retrying once on another worker',
              );
              excluded.add(failed);
              previousFailure = failure;
              continue;
            }
            throw failure;
          }
        }
      } finally {
        signal.removeEventListener('abort', forward);
        cancelDeadline();
        inflight--;
        if (inflight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
        // Only the attempt that streamed can have a first event (nothing is retried after one).
        if (progress.firstEventMs !== undefined && placedAtMs !== undefined)
          fleetTtft.add(progress.firstEventMs - placedAtMs);
      }
      yield done.kind === 'done' && done.route ? { ...done, route: { ...done.route, queuedMs: queued.ms } } : done;
    },

    /**
     * The decision this request would get, sent nowhere: the aggregated routing decision's fields
     * (policy, every decode-capable candidate's terms) at the top, `mode`, the prefill and decode
     * workers when disaggregated, the whole disaggregation decision (thresholds, the prefill
     * routing, every decode candidate's load and transfer terms, the reasons), and which workers
     * are saturated or not routed.
     */
    explain(request) {
      const now = clock.now();
      const all = fleet.candidates({ includeUnhealthy: true });
      const saturatedIds = all.filter((c) => c.healthy && saturated(c, now)).map((c) => c.id);
      const pool = request.sampling.maxTokens <= 1 ? all.filter((c) => c.role !== 'prefill') : all;
      const decision = disagg.decide(routeRequestOf(request), pool, { dryRun: true });
      const P = decision.prefillWorkerId === null ? undefined : fleet.placement(decision.prefillWorkerId);
      return {
        ...(decision.aggregated ?? { policy: null, candidates: [] }),
        workerId: decision.workerId,
        reason: decision.reason,
        mode: decision.disaggregate ? 'disaggregated' : 'aggregated',
        prefillWorkerId: decision.prefillWorkerId,
        decodeWorkerId: decision.decodeWorkerId,
        protocol: P ? (protocolOf(ctx, P)?.name ?? null) : null,
        disaggregation: decision,
        saturated: saturatedIds,
        notRouted: fleet.notRouted(),
        queued: queue.length,
      };
    },

    readiness(): Readiness {
      if (draining) return { ready: false, detail: 'shutting down' };
      return fleet.readiness();
    },

    workers: () => fleet.snapshot(),

    get inflight() {
      return inflight;
    },
    get queued() {
      return queue.length;
    },
    get thresholdTokens() {
      return disagg.thresholdTokens;
    },
    setThresholdTokens(tokens) {
      disagg.setThresholdTokens(tokens);
    },
    drain() {
      if (draining) return;
      draining = true;
      queue.close(unavailable('the orchestrator is shutting down'));
    },
    idle() {
      if (inflight === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
