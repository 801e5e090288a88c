import { forwardSeconds, type EngineProfile } from '../../common/profiles/index.ts';
import type { WorkerLoad } from '../load/index.ts';
import { prefillSecondsPerToken } from '../routing/index.ts';
import type { PlacementTerms } from './types.ts';

/**
 * Where a prompt above the threshold is prefilled, by the expected time to its first token on
 * each side and the decode work a local prefill holds up. Pure; seconds throughout.
 *
 *   local  = wait + prefill on the decode-capable worker (in chunked steps that carry its decode
 *            batch) + stall_weight x stall x stalled sequences
 *   remote = wait + prefill on the prefill worker + the KV transfer to the decode worker
 *
 * `stall` is how much longer the worker's decoding sequences wait for their next tokens while
 * the prompt's chunks share their steps (the chunked steps minus the decode steps they replace);
 * every sequence decoding there waits that long.
 *
 * When exactly one placement's expected TTFT (local: wait + prefill; remote: as above) meets the
 * TTFT target, that one wins: the request's own SLO decides. Otherwise (both meet it, or neither
 * can) the cheaper total wins, remote only when strictly cheaper (a tie stays local).
 *
 * With empty queues this is the planner's threshold rule (`planner/size/threshold.ts`: local
 * prefill hurts the batch more than moving KV hurts the request); the live queues on both sides
 * are what the per-request decision adds: a busy prefill pool sends a prompt to an idle decode
 * worker, a long prompt on a busy decode batch goes remote.
 */
export interface PlacementInput {
  readonly local: {
    /** Prefill queued on the decode-capable worker ahead of the request (`queuedPrefillSeconds`). */
    readonly queueSeconds: number;
    /** The request's uncached prefill there, chunked beside the worker's decode batch (`localPrefill`). */
    readonly prefillSeconds: number;
    /** Extra wait per decoding sequence while that prefill runs (`localPrefill`). */
    readonly stallSeconds: number;
    /** Sequences decoding on the worker, each held up by `stallSeconds`. */
    readonly stalledSequences: number;
  };
  readonly remote: {
    /** Prefill queued on the chosen prefill worker ahead of the request (`queuedPrefillSeconds`). */
    readonly queueSeconds: number;
    /** The request's uncached prefill on it. */
    readonly prefillSeconds: number;
    /** Pulling the prompt blocks the chosen decode worker lacks. */
    readonly transferSeconds: number;
  };
  /** TTFT-seconds one second of stall on one decoding sequence counts for (disaggregation.stall_weight). */
  readonly stallWeight: number;
  /** The TTFT target (planner.slo.ttft_s), seconds; Infinity: no target. */
  readonly ttftTargetSeconds: number;
}

export function comparePlacements(input: PlacementInput): PlacementTerms {
  const { local, remote, stallWeight } = input;
  const localTtftSeconds = local.queueSeconds + local.prefillSeconds;
  const localCostSeconds = localTtftSeconds + stallWeight * local.stallSeconds * local.stalledSequences;
  const remoteTtftSeconds = remote.queueSeconds + remote.prefillSeconds + remote.transferSeconds;
  const localMeets = localTtftSeconds <= input.ttftTargetSeconds;
  const remoteMeets = remoteTtftSeconds <= input.ttftTargetSeconds;
  return {
    localTtftSeconds,
    stallSeconds: local.stallSeconds,
    stalledSequences: local.stalledSequences,
    localCostSeconds,
    remoteTtftSeconds,
    ttftTargetSeconds: input.ttftTargetSeconds,
    remote: localMeets !== remoteMeets ? remoteMeets : remoteTtftSeconds < localCostSeconds,
  };
}

/**
 * The wait a placement is priced with: prefill queued on the worker ahead of the request, in
 * seconds at the routing cost model's rate per queued token. The queued tokens are the larger of
 * the load book's figure (the worker's last report, corrected by the router's bookings since)
 * and the router's own bookings alone, as the dispatcher's capacity check counts them: every
 * booked prompt is on the worker until its first token comes back.
 *
 * Why the floor: a worker reports a prompt's prefill done once its last chunk is scheduled,
 * while the router holds its booking until the first token arrives (that step's time later).
 * A report taken in between no longer counts the prompt, the booking's release then subtracts
 * it a second time, and until the next report (up to the status interval) the prompts queued
 * behind it vanish from the corrected figure. On a prefill worker whose steps are long chunks
 * of long prompts this happens after almost every prompt: on mixed-isl the remote wait read 0
 * while 1-2 s of prefill were queued, and long prompts sent there missed the TTFT target.
 */
export function queuedPrefillSeconds(
  profile: EngineProfile,
  load: Pick<WorkerLoad, 'queuedPrefillTokens' | 'booked'>,
): number {
  return Math.max(load.queuedPrefillTokens, load.booked.queuedPrefillTokens) * prefillSecondsPerToken(profile);
}

/**
 * Tokens one chunked-prefill step computes at most: vLLM's default `max_num_batched_tokens`
 * (and Tandem's engine's, `worker.max_num_batched_tokens`). The router does not know each
 * engine's budget; prefill is compute-bound, so the total barely depends on it.
 */
export const LOCAL_CHUNK_TOKENS = 8192;

export interface LocalPrefillInput {
  /** Uncached prompt tokens on the worker, and the cached prefix they attend to. */
  readonly newTokens: number;
  readonly cachedTokens: number;
  /** Sequences decoding on the worker and their summed context, tokens. */
  readonly decodeSequences: number;
  readonly decodeContextTokens: number;
  readonly chunkTokens?: number;
}

/**
 * A local prefill on a worker with a decode batch: the prompt in chunks of `chunkTokens`, each
 * step also decoding the batch (as the engine's scheduler runs it). `prefillSeconds` is the
 * steps' total (the request's TTFT past its wait); `stallSeconds` is that total minus the decode
 * steps the batch would have run anyway in that many steps, i.e. how much later each decoding
 * sequence gets its tokens. No batch, no stall.
 */
export function localPrefill(
  profile: EngineProfile,
  input: LocalPrefillInput,
): { prefillSeconds: number; stallSeconds: number } {
  const chunk = Math.max(1, input.chunkTokens ?? LOCAL_CHUNK_TOKENS);
  const decodeShape = {
    prefill: [],
    decodeSequences: input.decodeSequences,
    decodeContextTokens: input.decodeContextTokens,
  };
  const decodeStep = input.decodeSequences > 0 ? forwardSeconds(profile, decodeShape) : 0;
  let prefillSeconds = 0;
  let stallSeconds = 0;
  for (let done = 0; done < input.newTokens; done += chunk) {
    const newTokens = Math.min(chunk, input.newTokens - done);
    const step = forwardSeconds(profile, {
      prefill: [{ newTokens, contextTokens: input.cachedTokens + done }],
      decodeSequences: input.decodeSequences,
      decodeContextTokens: input.decodeContextTokens,
    });
    prefillSeconds += step;
    if (input.decodeSequences > 0) stallSeconds += step - decodeStep;
  }
  return { prefillSeconds, stallSeconds };
}
