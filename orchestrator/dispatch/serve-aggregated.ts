import { TandemError, toTandemError } from '../../common/errors.ts';
import type { Placement } from '../discovery/index.ts';
import { markFailedRun, type GenerationEvent, type TokenizedRequest } from '../serving.ts';
import type { Booking } from './booking.ts';
import { chunkEvent, chunkTokenCount, coalesceChunks } from './coalesce.ts';
import { abortedDone, callTarget, countStreamed, type DispatchContext, type Progress } from './context.ts';
import { isWorkerFault } from './failures.ts';

/** One aggregated attempt: the worker, its booking, and what routing knew of it. */
export interface AggregatedRun {
  readonly placement: Placement;
  /** The booking on `placement` (booking.ts), released when the attempt ends however it ends. */
  readonly booking: Booking;
  /** Prompt tokens the router expected cached there (the usage of a cancelled call). */
  readonly cachedTokens: number;
}

/**
 * Streams an aggregated request from one worker and returns (not yields) its final event, so
 * that the booking and the lease are released before the caller yields it. Releases the prefill
 * tokens at the first token and everything when the stream ends however it ends. A client abort
 * (signal reason `cancelled`) ends with finish "abort"; any other failure is thrown as a
 * TandemError after a health probe of a faulty worker. `progress.streamed` counts the tokens
 * sent, so the caller knows whether a retry is still possible.
 */
export async function* streamAggregated(
  ctx: DispatchContext,
  request: TokenizedRequest,
  run: AggregatedRun,
  signal: AbortSignal,
  progress: Progress,
): AsyncGenerator<GenerationEvent, GenerationEvent> {
  const { fleet, logger } = ctx;
  const { placement, booking } = run;
  const { worker, tenant } = placement;
  const returnLease = worker.lease();
  let streamed = 0;
  try {
    const chunks = coalesceChunks(
      worker.backend.generate(
        {
          requestId: request.requestId,
          ...callTarget(placement, request),
          tokenIds: request.promptTokenIds,
          sampling: request.sampling,
          deadlineUnixMs: request.deadlineUnixMs,
          openai: request.openai,
        },
        signal,
      ),
    );
    for await (const chunk of chunks) {
      const tokens = chunkTokenCount(chunk);
      if (tokens > 0) {
        if (streamed === 0) booking.firstToken();
        streamed += tokens;
        booking.streamed(streamed);
      }
      const event = chunkEvent(chunk);
      if (event) {
        // Anything the client got (a pass-through role chunk too) rules a retry out.
        countStreamed(progress, Math.max(tokens, 1), ctx.clock.now());
        yield event;
      }
      if (chunk.finishReason !== undefined) {
        const usage = chunk.usage;
        const done: GenerationEvent = {
          kind: 'done',
          finishReason: chunk.finishReason,
          usage: {
            promptTokens: usage?.promptTokens || request.promptTokenIds.length,
            cachedPromptTokens: usage?.cachedPromptTokens ?? 0,
            completionTokens: usage?.completionTokens || streamed,
          },
          mode: 'aggregated',
          route: { workers: [tenant], overlapTokens: run.cachedTokens },
        };
        logger.debug(
          {
            requestId: request.requestId,
            mode: 'aggregated',
            worker: tenant,
            promptTokens: done.usage.promptTokens,
            cachedTokens: done.usage.cachedPromptTokens,
            completionTokens: done.usage.completionTokens,
            finishReason: chunk.finishReason,
          },
          'request served',
        );
        return done;
      }
    }
    throw new TandemError('upstream_error', `worker ${worker.name} ended the stream without a finish reason`);
  } catch (error) {
    if (signal.aborted) {
      // The worker's own usage never comes on a cancelled call: cached tokens are the router's
      // figure for the chosen worker at routing time.
      const usage = {
        promptTokens: request.promptTokenIds.length,
        cachedPromptTokens: run.cachedTokens,
        completionTokens: streamed,
      };
      return abortedDone(signal, usage, {
        mode: 'aggregated',
        route: { workers: [tenant], overlapTokens: run.cachedTokens },
      });
    }
    const failure = toTandemError(error, 'upstream_error');
    if (isWorkerFault(failure.code)) fleet.probe(worker.name);
    progress.failedWorker = worker.name;
    if (streamed > 0)
      logger.warn(
        {
          requestId: request.requestId,
          worker: worker.name,
          code: failure.code,
          tokens: streamed,
          err: failure.message,
        },
        'worker failed mid-stream',
      );
    throw markFailedRun(failure, { mode: 'aggregated', route: { workers: [tenant], overlapTokens: run.cachedTokens } });
  } finally {
    booking.release();
    returnLease();
    ctx.wake();
  }
}
