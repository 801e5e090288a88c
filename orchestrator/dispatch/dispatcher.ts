import type { Clock } from '../../common/clock.ts';
import { isTandemError, TandemError, toTandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { Fleet, Placement } from '../discovery/index.ts';
import type { BookingId } from '../load/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { Candidate, RouteRequest, RoutingCore, RoutingDecision } from '../routing/index.ts';
import type { GenerationEvent, Readiness, ServingCore, TokenizedRequest } from '../serving.ts';
import { createCapacityQueue, type CapacityQueue } from './capacity-queue.ts';
import { coalesceChunks } from './coalesce.ts';
import { isRetryable, isWorkerFault } from './failures.ts';

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
    readonly retryBeforeFirstToken: boolean;
  };
  readonly queue: { readonly maxQueued: number; readonly timeoutMs: number; readonly retryAfterS: number; readonly pollMs?: number };
  /** Seconds on a monotonic stopwatch, for the router-decision histogram only. Default performance.now. */
  readonly stopwatch?: () => number;
  /** How often a streaming request refreshes its booking (lost-stream expiry, growing KV), ms. Default 1000. */
  readonly touchIntervalMs?: number;
}

/** The ServingCore of a running orchestrator, plus what shutdown needs. */
export interface Dispatcher extends ServingCore {
  /** Requests inside generate() now (queued or running). */
  readonly inflight: number;
  /** Requests waiting for a worker with room. */
  readonly queued: number;
  /** Stops admitting: new requests and queued ones get 503; running ones continue. */
  drain(): void;
  /** Resolves when no request is inside generate(). */
  idle(): Promise<void>;
}

type Attempt =
  | { readonly kind: 'placed'; readonly placement: Placement; readonly booking: BookingId; readonly decision: RoutingDecision }
  | { readonly kind: 'saturated' }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * Serves aggregated requests: route (timed into tandem_router_decision_seconds), commit the
 * booking, stream from the worker's backend, release the prefill tokens at the first token and
 * everything when the stream ends however it ends. A worker that fails before the first token
 * gets the request retried once on another worker; after the first token the failure ends the
 * stream. Aborting the request's signal cancels the worker's call; the request's deadline
 * aborts it with deadline_exceeded. When every eligible worker is saturated the request waits
 * in the one admission queue (see capacity-queue.ts).
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { fleet, routing, metrics, clock, limits } = options;
  const logger = options.logger;
  const stopwatch = options.stopwatch ?? (() => performance.now() / 1000);
  const touchIntervalMs = options.touchIntervalMs ?? 1000;
  const queue: CapacityQueue = createCapacityQueue({
    maxQueued: options.queue.maxQueued,
    timeoutMs: options.queue.timeoutMs,
    retryAfterS: options.queue.retryAfterS,
    clock,
    ...(options.queue.pollMs === undefined ? {} : { pollMs: options.queue.pollMs }),
    onDepth: (n) => metrics.setQueueDepth(n),
  });
  fleet.onChange(() => queue.wake());
  let inflight = 0;
  let draining = false;
  const idleWaiters: (() => void)[] = [];

  const unavailable = (reason: string) => new TandemError('unavailable', reason, { retryAfterS: options.queue.retryAfterS });
  /**
   * The router's own bookings are a floor: every booked request is really on the worker until
   * released, while a report may predate requests the worker has not picked up yet (the
   * corrected figure then counts them as gone). Reports add what the router did not book.
   */
  const saturated = (tenant: string, nowMs: number): boolean => {
    const load = routing.load.load(tenant, nowMs);
    const inflight = Math.max(load.inflightRequests, load.booked.inflightRequests);
    const queued = Math.max(load.queuedPrefillTokens, load.booked.queuedPrefillTokens);
    return inflight >= limits.maxInflightPerWorker || queued >= limits.maxQueuedPrefillTokensPerWorker;
  };
  const routeRequest = (request: TokenizedRequest): RouteRequest => ({ requestId: request.requestId, tokenIds: request.promptTokenIds, sessionKey: request.sessionKey, maxTokens: request.sampling.maxTokens });

  function attempt(request: TokenizedRequest, excluded: ReadonlySet<string>): Attempt {
    let candidates: readonly Candidate[] = fleet.candidates();
    if (excluded.size > 0) candidates = candidates.filter((c) => !excluded.has(fleet.placement(c.id)?.worker.name ?? ''));
    if (candidates.length === 0) {
      return { kind: 'none', reason: excluded.size > 0 ? `no other healthy worker to retry on (${fleet.readiness().detail})` : `no healthy worker can serve the request: ${fleet.readiness().detail}` };
    }
    const now = clock.now();
    const open = candidates.filter((c) => !saturated(c.id, now));
    if (open.length === 0) return { kind: 'saturated' };
    const started = stopwatch();
    const decision = routing.router.route(routeRequest(request), open);
    metrics.observeRouterDecision(Math.max(0, stopwatch() - started));
    if (decision.workerId === null) return { kind: 'none', reason: decision.reason };
    const placement = fleet.placement(decision.workerId);
    if (!placement) return { kind: 'none', reason: `worker ${decision.workerId} left the fleet` };
    const booking = routing.router.commit(decision);
    fleet.publishLoad(placement.tenant);
    return { kind: 'placed', placement, booking, decision };
  }

  async function place(request: TokenizedRequest, excluded: ReadonlySet<string>, signal: AbortSignal): Promise<Extract<Attempt, { kind: 'placed' }>> {
    // Arrivals wait behind those already queued (FIFO), so they do not try first.
    if (queue.length === 0) {
      const first = attempt(request, excluded);
      if (first.kind === 'placed') return first;
      if (first.kind === 'none') throw unavailable(first.reason);
    }
    const ticket = queue.ticket();
    for (;;) {
      if (draining) throw unavailable('the orchestrator is shutting down');
      await queue.waitTurn(ticket, signal);
      const next = attempt(request, excluded);
      if (next.kind !== 'saturated') queue.wake(); // pass the turn on: there may be room for more
      if (next.kind === 'placed') return next;
      if (next.kind === 'none') throw unavailable(next.reason);
    }
  }

  /**
   * Streams the request's tokens and returns (not yields) its final event, so that every
   * booking and lease is released before the caller yields it: a consumer may stop pulling
   * right after the final event, and a suspended generator never reaches its finally blocks.
   */
  async function* serve(request: TokenizedRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent, GenerationEvent> {
    const excluded = new Set<string>();
    let previousFailure: TandemError | undefined;
    for (;;) {
      let placed: Extract<Attempt, { kind: 'placed' }>;
      try {
        placed = await place(request, excluded, signal);
      } catch (error) {
        if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
        // A retry that finds nowhere to go reports the failure that caused it.
        if (previousFailure && isTandemError(error) && error.code === 'unavailable') throw previousFailure;
        throw error;
      }
      const { placement, booking, decision } = placed;
      const { worker, tenant } = placement;
      const returnLease = worker.lease();
      const chosen = decision.candidates.find((c) => c.id === tenant);
      const route = { workers: [tenant], overlapTokens: chosen?.cachedTokens ?? 0 };
      let streamed = 0;
      let lastTouchMs = clock.now();
      try {
        const chunks = coalesceChunks(worker.backend.generate(
          {
            requestId: request.requestId,
            model: worker.servedModel ?? request.model,
            tokenIds: request.promptTokenIds,
            sampling: request.sampling,
            deadlineUnixMs: request.deadlineUnixMs,
            dpRank: worker.tenants.length > 1 ? placement.dpRank : undefined,
          },
          signal,
        ));
        for await (const chunk of chunks) {
          if (chunk.tokenIds.length > 0) {
            const now = clock.now();
            if (streamed === 0) {
              routing.load.firstToken(booking, now);
              fleet.publishLoad(tenant);
            }
            streamed += chunk.tokenIds.length;
            if (now - lastTouchMs >= touchIntervalMs) {
              lastTouchMs = now;
              const blockSize = chosen?.blockSize ?? 16;
              routing.load.touch(booking, now, Math.ceil((request.promptTokenIds.length + streamed) / blockSize));
            }
            yield { kind: 'tokens', tokenIds: chunk.tokenIds };
          }
          if (chunk.finishReason !== undefined) {
            const usage = chunk.usage;
            return {
              kind: 'done',
              finishReason: chunk.finishReason,
              usage: {
                promptTokens: usage?.promptTokens || request.promptTokenIds.length,
                cachedPromptTokens: usage?.cachedPromptTokens ?? 0,
                completionTokens: usage?.completionTokens || streamed,
              },
              mode: 'aggregated',
              route,
            };
          }
        }
        throw new TandemError('upstream_error', `worker ${worker.name} ended the stream without a finish reason`);
      } catch (error) {
        if (signal.aborted) {
          const reason = toTandemError(signal.reason, 'cancelled');
          if (reason.code !== 'cancelled') throw reason;
          // Cancelled by the client (or a stop string): end as the contract prefers, with what is
          // known. The worker's own usage never comes on a cancelled call: cached tokens are the
          // router's figure for the chosen worker at routing time.
          return { kind: 'done', finishReason: 'abort', usage: { promptTokens: request.promptTokenIds.length, cachedPromptTokens: chosen?.cachedTokens ?? 0, completionTokens: streamed }, mode: 'aggregated', route };
        }
        const failure = toTandemError(error, 'upstream_error');
        if (isWorkerFault(failure.code)) fleet.probe(worker.name);
        if (streamed === 0 && excluded.size === 0 && limits.retryBeforeFirstToken && isRetryable(failure.code)) {
          logger.warn({ requestId: request.requestId, worker: worker.name, code: failure.code, err: failure.message }, 'worker failed before the first token: retrying once on another worker');
          excluded.add(worker.name);
          previousFailure = failure;
          continue;
        }
        if (streamed > 0) logger.warn({ requestId: request.requestId, worker: worker.name, code: failure.code, tokens: streamed, err: failure.message }, 'worker failed mid-stream');
        throw failure;
      } finally {
        routing.load.release(booking);
        returnLease();
        fleet.publishLoad(tenant);
        queue.wake();
      }
    }
  }

  return {
    models: () => options.models,

    async *generate(request, signal) {
      if (draining) throw unavailable('the orchestrator is shutting down');
      if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
      const abort = new AbortController();
      const forward = () => abort.abort(signal.reason);
      signal.addEventListener('abort', forward, { once: true });
      const remainingMs = request.deadlineUnixMs - clock.now();
      const cancelDeadline =
        Number.isFinite(remainingMs) && remainingMs < 2 ** 31
          ? clock.setTimer(Math.max(0, remainingMs), () => abort.abort(new TandemError('deadline_exceeded', 'the request reached its deadline')))
          : () => {};
      inflight++;
      let done: GenerationEvent;
      try {
        done = yield* serve(request, abort.signal);
      } finally {
        signal.removeEventListener('abort', forward);
        cancelDeadline();
        inflight--;
        if (inflight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      }
      yield done;
    },

    explain(request) {
      const now = clock.now();
      const all = fleet.candidates({ includeUnhealthy: true });
      const saturatedIds = all.filter((c) => c.healthy && saturated(c.id, now)).map((c) => c.id);
      const considered = all.filter((c) => !saturatedIds.includes(c.id));
      const decision = routing.router.route(routeRequest(request), considered, { dryRun: true });
      return { ...decision, mode: 'aggregated', saturated: saturatedIds, notRouted: fleet.notRouted(), queued: queue.length };
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
