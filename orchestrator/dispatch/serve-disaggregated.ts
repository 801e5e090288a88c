import { TandemError, toTandemError } from '../../common/errors.ts';
import type { BackendUsage, HandoffProtocol, PrefillStep } from '../backends/index.ts';
import type { DisaggDecision } from '../disagg/index.ts';
import type { Placement } from '../discovery/index.ts';
import {
  markFailedRun,
  type FinishReason,
  type GenerationEvent,
  type TokenizedRequest,
  type TokenLogprob,
} from '../serving.ts';
import type { Booking } from './booking.ts';
import { coalesceChunks } from './coalesce.ts';
import {
  abortedDone,
  countStreamed,
  handoffPeer,
  protocolOf,
  routeRequestOf,
  type DispatchContext,
  type Progress,
} from './context.ts';
import { isWorkerFault } from './failures.ts';
import { streamAggregated } from './serve-aggregated.ts';

/** A committed disaggregated decision: both workers, their bookings, and the protocol they share. */
export interface DisaggregatedRun {
  readonly prefill: Placement;
  readonly decode: Placement;
  /** The prefill worker's booking and the decode worker's (booking.ts). */
  readonly bookings: { readonly first: Booking; readonly decode: Booking };
  readonly decision: DisaggDecision;
  readonly protocol: HandoffProtocol;
}

/**
 * Serves a disaggregated request and returns (not yields) its final event, every booking, lease
 * and hold released first:
 *
 * 1. Prefill on the prefill worker (the protocol's `prefill`). Its first token goes to the client
 *    at once when the protocol hands it over (TTFT = the prefill); the prefill worker's booking
 *    is released then. A prefill that fails (not cancelled) falls back to aggregated serving on
 *    the decode worker, booked anew with the prompt's prefill.
 * 2. Decode on the decode worker with the handoff, streaming the rest (a repeated first token is
 *    dropped). A decode worker failing before its first token hands the same handoff to another
 *    decode worker (decode selection again, `disaggregation.decode_retries` times), when the
 *    protocol allows it; the prefill side still holds the blocks, or the new worker recomputes.
 *    A transfer that fails, or a prefill worker gone after the handoff, is the decode worker's
 *    to absorb (it recomputes the prompt, vLLM's `recompute` policy).
 * 3. However it ends: the prefill side's hold is released (idempotent), the decode booking too.
 *
 * A client abort ends with finish "abort"; other failures are thrown (progress.failedWorker says
 * whose). The mode is `disaggregated`, or `aggregated` after a prefill fallback.
 */
export async function* streamDisaggregated(
  ctx: DispatchContext,
  request: TokenizedRequest,
  run: DisaggregatedRun,
  signal: AbortSignal,
  progress: Progress,
): AsyncGenerator<GenerationEvent, GenerationEvent> {
  const { fleet, clock, logger } = ctx;
  const P = run.prefill;
  const promptTokens = request.promptTokenIds.length;
  const startedMs = clock.now();
  const call = {
    requestId: request.requestId,
    tokenIds: request.promptTokenIds,
    sampling: request.sampling,
    deadlineUnixMs: request.deadlineUnixMs,
    openai: request.openai,
  };
  const session = run.protocol.open({
    call,
    prefill: handoffPeer(P, request),
    decode: handoffPeer(run.decode, request),
    signal,
  });
  const blockSizeOf = (tenant: string) =>
    run.decision.aggregated?.candidates.find((c) => c.id === tenant)?.blockSize ??
    run.decision.prefill?.candidates.find((c) => c.id === tenant)?.blockSize ??
    16;

  let returnPrefillLease: (() => void) | undefined = P.worker.lease();
  /** The prefill side is done (first token or failure): its booking and lease go, once. */
  const endPrefill = (firstToken: boolean) => {
    if (!returnPrefillLease) return;
    if (firstToken) run.bookings.first.firstToken();
    run.bookings.first.release();
    returnPrefillLease();
    returnPrefillLease = undefined;
  };
  let target = run.decode;
  let decodeBooking: Booking = run.bookings.decode;
  let returnDecodeLease: (() => void) | undefined = target.worker.lease();
  const endDecode = () => {
    decodeBooking.release();
    returnDecodeLease?.();
    returnDecodeLease = undefined;
  };

  let step: PrefillStep | undefined;
  /** Set when the request is served or fails; still unset in `finally` means it was cancelled (by its signal, or by the consumer leaving). */
  let ended = false;
  let streamed = 0;
  let retries = 0;
  let prefillMs = 0;
  /** The prefill worker's cached prefix as routing saw it, tokens. */
  const routedOverlap = run.decision.prefill?.candidates.find((c) => c.id === P.tenant)?.cachedTokens ?? 0;
  const aborted = (): GenerationEvent =>
    abortedDone(
      signal,
      { promptTokens, cachedPromptTokens: step?.usage.cachedPromptTokens ?? routedOverlap, completionTokens: streamed },
      { mode: 'disaggregated', route: { workers: [P.tenant, target.tenant], overlapTokens: routedOverlap } },
    );
  const emit = (tokenIds: readonly number[], logprobs: readonly TokenLogprob[] | undefined): GenerationEvent => {
    streamed += tokenIds.length;
    countStreamed(progress, tokenIds.length, ctx.clock.now());
    return logprobs === undefined ? { kind: 'tokens', tokenIds } : { kind: 'tokens', tokenIds, logprobs };
  };

  try {
    try {
      step = await session.prefill();
    } catch (error) {
      endPrefill(false);
      if (signal.aborted) return aborted();
      const failure = toTandemError(error, 'upstream_error');
      if (isWorkerFault(failure.code)) fleet.probe(P.worker.name);
      logger.warn(
        {
          requestId: request.requestId,
          prefill: P.tenant,
          decode: target.tenant,
          code: failure.code,
          err: failure.message,
        },
        'prefill failed: serving the request aggregated on the decode worker',
      );
      // The decode worker now prefills too: book it as an aggregated request.
      endDecode();
      await session.release();
      const report = run.decision.aggregated?.candidates.find((c) => c.id === target.tenant);
      const blockSize = blockSizeOf(target.tenant);
      const booking = ctx.bookings.book(
        target.tenant,
        { prefillTokens: report?.newTokens ?? promptTokens, decodeBlocks: Math.ceil(promptTokens / blockSize) },
        { promptTokens, blockSize },
      );
      ended = true;
      return yield* streamAggregated(
        ctx,
        request,
        { placement: target, booking, cachedTokens: report?.cachedTokens ?? 0 },
        signal,
        progress,
      );
    }
    endPrefill(true);
    prefillMs = clock.now() - startedMs;
    if (step.firstTokenId !== null)
      yield emit([step.firstTokenId], step.firstTokenLogprob === undefined ? undefined : [step.firstTokenLogprob]);
    if (step.finishReason !== null) return finish(step.finishReason, undefined);

    const tried = new Set([target.worker.name]);
    for (;;) {
      let received = 0;
      try {
        for await (const chunk of coalesceChunks(session.decode(handoffPeer(target, request)))) {
          if (chunk.output) {
            // A pass-through decode: the engine's own output, verbatim (it carries the first token too).
            const counted = chunk.output.tokens;
            received += Math.max(counted, 1);
            streamed += counted;
            countStreamed(progress, Math.max(counted, 1), ctx.clock.now());
            decodeBooking.streamed(streamed);
            yield { kind: 'output', data: chunk.output.data, tokens: counted };
          }
          let tokens = chunk.tokenIds;
          let logprobs = chunk.logprobs;
          if (step.decodeRepeatsFirstToken && received === 0 && tokens.length > 0) {
            if (tokens[0] !== step.firstTokenId)
              logger.warn(
                {
                  requestId: request.requestId,
                  decode: target.tenant,
                  prefillToken: step.firstTokenId,
                  decodeToken: tokens[0],
                },
                'the decode worker resampled a different first token than the prefill worker sent',
              );
            tokens = tokens.slice(1);
            logprobs = logprobs?.slice(1);
          }
          received += chunk.tokenIds.length;
          if (tokens.length > 0) {
            decodeBooking.streamed(streamed);
            yield emit(tokens, logprobs);
          }
          if (chunk.finishReason !== undefined) return finish(chunk.finishReason, chunk.usage);
        }
        throw new TandemError(
          'upstream_error',
          `worker ${target.worker.name} ended the decode stream without a finish reason`,
        );
      } catch (error) {
        if (signal.aborted) return aborted();
        const failure = toTandemError(error, 'upstream_error');
        if (isWorkerFault(failure.code)) fleet.probe(target.worker.name);
        progress.failedWorker = target.worker.name;
        if (received === 0 && step.decodeRetryable && retries < ctx.decodeRetries) {
          const next = anotherDecodeWorker(tried);
          if (next) {
            retries++;
            logger.warn(
              {
                requestId: request.requestId,
                failed: target.tenant,
                next: next.placement.tenant,
                code: failure.code,
                err: failure.message,
              },
              'decode worker failed before its first token: decoding on another worker with the same handoff',
            );
            endDecode();
            target = next.placement;
            tried.add(target.worker.name);
            decodeBooking = ctx.bookings.adopt(
              target.tenant,
              ctx.disagg.commitDecode(routeRequestOf(request), target.tenant, next.blockSize),
              { promptTokens, blockSize: next.blockSize },
            );
            fleet.publishLoad(target.tenant);
            returnDecodeLease = target.worker.lease();
            continue;
          }
        }
        if (streamed > 0)
          logger.warn(
            {
              requestId: request.requestId,
              decode: target.worker.name,
              code: failure.code,
              tokens: streamed,
              err: failure.message,
            },
            'disaggregated request failed mid-stream',
          );
        ended = true;
        throw markFailedRun(failure, {
          mode: 'disaggregated',
          route: { workers: [P.tenant, target.tenant], overlapTokens: routedOverlap },
        });
      }
    }
  } finally {
    if (!ended)
      logger.debug(
        {
          requestId: request.requestId,
          mode: 'disaggregated',
          prefill: P.tenant,
          decode: target.tenant,
          phase: step === undefined ? 'prefill' : 'decode',
          tokens: streamed,
        },
        'disaggregated request cancelled',
      );
    endPrefill(false);
    endDecode();
    await session.release();
    ctx.wake();
  }

  function finish(finishReason: FinishReason, usage: BackendUsage | undefined): GenerationEvent {
    const blocks = usage?.transferredBlocks ?? 0;
    const bytes = usage?.transferredBytes ?? 0;
    if (blocks > 0 || bytes > 0) ctx.metrics.countKvTransfer(blocks, bytes);
    ended = true;
    const done: GenerationEvent = {
      kind: 'done',
      finishReason,
      usage: {
        promptTokens,
        cachedPromptTokens: step!.usage.cachedPromptTokens,
        completionTokens: usage?.completionTokens || streamed,
      },
      mode: 'disaggregated',
      route: { workers: [P.tenant, target.tenant], overlapTokens: routedOverlap },
    };
    logger.debug(
      {
        requestId: request.requestId,
        mode: 'disaggregated',
        protocol: run.protocol.name,
        prefill: P.tenant,
        decode: target.tenant,
        decodeRetries: retries,
        promptTokens,
        cachedTokens: step!.usage.cachedPromptTokens,
        decodeCachedTokens: usage?.cachedPromptTokens ?? null,
        transferredBlocks: blocks,
        transferredBytes: bytes,
        kvRecomputed: usage?.kvRecomputed ?? null,
        completionTokens: done.usage.completionTokens,
        prefillMs,
        finishReason,
      },
      'request served',
    );
    return done;
  }

  /** Decode selection again over the decode-capable workers not tried yet that speak the same protocol. */
  function anotherDecodeWorker(tried: ReadonlySet<string>): { placement: Placement; blockSize: number } | null {
    const candidates = ctx.open(clock.now()).filter((c) => {
      const placement = fleet.placement(c.id);
      return (
        placement !== undefined &&
        c.role !== 'prefill' &&
        c.id !== P.tenant &&
        !tried.has(placement.worker.name) &&
        protocolOf(ctx, placement)?.name === run.protocol.name
      );
    });
    const selection = ctx.disagg.reselectDecode(routeRequestOf(request), candidates);
    const placement = selection.workerId === null ? undefined : fleet.placement(selection.workerId);
    const candidate = candidates.find((c) => c.id === selection.workerId);
    return placement && candidate ? { placement, blockSize: candidate.blockSize } : null;
  }
}
