import type { Clock } from '../../common/clock.ts';
import { toTandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { HandoffPeer, HandoffProtocol, HandoffProtocols } from '../backends/index.ts';
import type { Disaggregator } from '../disagg/index.ts';
import type { Fleet, Placement } from '../discovery/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { Candidate, RouteRequest, RoutingCore } from '../routing/index.ts';
import type { GenerationEvent, RouteSummary, ServingMode, TokenizedRequest, Usage } from '../serving.ts';
import type { Bookings } from './booking.ts';

/** What the serving paths (aggregated, disaggregated) share with the dispatcher that starts them. */
export interface DispatchContext {
  readonly fleet: Fleet;
  readonly routing: RoutingCore;
  readonly disagg: Disaggregator;
  /** The booking lifecycle every serving path uses (booking.ts). */
  readonly bookings: Bookings;
  readonly protocols: HandoffProtocols;
  readonly metrics: OrchestratorMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Other decode workers a failed decode may move to (same handoff), per request. */
  readonly decodeRetries: number;
  /** Healthy candidates that are not saturated now. */
  open(nowMs: number): readonly Candidate[];
  /** A request ended or a booking went: let queued requests try again. */
  wake(): void;
}

/** Mutable progress of one request across attempts. */
export interface Progress {
  /** Tokens already sent to the client: after the first, nothing is retried elsewhere. */
  streamed: number;
  /** The worker whose failure ended the last attempt (a retry goes elsewhere). */
  failedWorker: string | undefined;
  /** When the client's first event was sent (clock ms): the fleet's TTFT estimate reads it. */
  firstEventMs: number | undefined;
}

/** `count` more reached the client (a retry is now ruled out); the first time, notes when. */
export function countStreamed(progress: Progress, count: number, nowMs: number): void {
  if (progress.firstEventMs === undefined) progress.firstEventMs = nowMs;
  progress.streamed += count;
}

/**
 * How a request ends when its signal fired while it was served. Cancelled (by the client, or a
 * stop string): a `done` with finish reason `abort` and what is known of its usage, as the
 * contract prefers. Any other reason (its deadline) is thrown, failing the request.
 */
export function abortedDone(
  signal: AbortSignal,
  usage: Usage,
  where: { readonly mode: ServingMode; readonly route: RouteSummary },
): GenerationEvent {
  const reason = toTandemError(signal.reason, 'cancelled');
  if (reason.code !== 'cancelled') throw reason;
  return { kind: 'done', finishReason: 'abort', usage, ...where };
}

export const routeRequestOf = (request: TokenizedRequest): RouteRequest => ({
  requestId: request.requestId,
  tokenIds: request.promptTokenIds,
  sessionKey: request.sessionKey,
  maxTokens: request.sampling.maxTokens,
});

/** The model name and data-parallel rank a worker call carries for `placement`. */
export function callTarget(
  placement: Placement,
  request: TokenizedRequest,
): { model: string; dpRank: number | undefined } {
  const { worker } = placement;
  return {
    model: worker.servedModel ?? request.model,
    dpRank: worker.tenants.length > 1 ? placement.dpRank : undefined,
  };
}

/** A placement as a handoff protocol names it. */
export function handoffPeer(placement: Placement, request: TokenizedRequest): HandoffPeer {
  const kv = placement.worker.spec.kv_transfer;
  return {
    name: placement.tenant,
    backend: placement.worker.backend,
    ...callTarget(placement, request),
    ncclAddress: kv?.nccl_address,
    bootstrapPort: kv === undefined ? undefined : kv.bootstrap_port,
  };
}

/** The handoff protocol a worker speaks (its config, else its backend's default); null when misconfigured. */
export function protocolOf(ctx: Pick<DispatchContext, 'protocols'>, placement: Placement): HandoffProtocol | null {
  try {
    return ctx.protocols.get(placement.worker.spec.kv_transfer?.protocol, placement.worker.backend.kind);
  } catch {
    return null;
  }
}
