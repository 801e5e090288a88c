import type { MessageInitShape } from '@bufbuild/protobuf';
import { TandemError } from '../../common/errors.ts';
import { usageCounts } from '../../common/usage.ts';
import { modelProfile } from '../../common/profiles/index.ts';
import {
  FinishReason as WireFinishReason,
  KvLoadFailurePolicy,
  KvTransport,
  WorkerRole,
  type KvHandoff as WireKvHandoff,
  type KvHandoffSchema,
  type SamplingParams as WireSampling,
  type TokenLogprobSchema,
  type UsageSchema,
} from '../../proto/gen/tandem/v1/worker_pb.ts';
import type {
  EngineInfo,
  FinishReason,
  KvHandoff,
  RequestUsage,
  SamplingParams,
  TokenLogprob,
} from '../engine/engine-api.ts';

/**
 * Translations between tandem.v1 messages and the engine API. Nothing here decides anything;
 * the one rule worth stating: wire times are Unix epoch milliseconds and so are the engine's
 * clock times, because a worker process runs its engine on the real clock.
 */

export type Role = 'prefill' | 'decode' | 'both';

/** Where this worker can be reached by peers (the SIM handoff names it). */
export interface WorkerAddress {
  readonly host: string;
  readonly port: number;
}

export function samplingFromWire(sampling: WireSampling | undefined): SamplingParams {
  if (!sampling)
    throw new TandemError('invalid_request', 'sampling is required (at least max_tokens)', { param: 'sampling' });
  return {
    maxTokens: sampling.maxTokens,
    temperature: sampling.temperature,
    // proto3 cannot tell 0 from unset: 0 is read as 1, as the .proto says.
    topP: sampling.topP === 0 ? 1 : sampling.topP,
    seed: sampling.seed,
    stopTokenIds: sampling.stopTokenIds,
    ignoreEos: sampling.ignoreEos,
    minTokens: sampling.minTokens,
    topK: sampling.topK,
    minP: sampling.minP,
    presencePenalty: sampling.presencePenalty,
    frequencyPenalty: sampling.frequencyPenalty,
    // proto3 cannot tell 0 from unset: 0 is read as 1 (off), as the .proto says.
    repetitionPenalty: sampling.repetitionPenalty === 0 ? 1 : sampling.repetitionPenalty,
    logprobs: sampling.logprobs,
  };
}

export function logprobToWire(logprob: TokenLogprob): MessageInitShape<typeof TokenLogprobSchema> {
  return { logprob: logprob.logprob, top: logprob.top.map((t) => ({ tokenId: t.tokenId, logprob: t.logprob })) };
}

/** The earlier of the request's own deadline (0 = none) and the call's. */
export function deadlineOf(requestDeadlineUnixMs: number, callDeadlineUnixMs: number | undefined): number | undefined {
  const own = requestDeadlineUnixMs > 0 ? requestDeadlineUnixMs : undefined;
  if (own === undefined) return callDeadlineUnixMs;
  return callDeadlineUnixMs === undefined ? own : Math.min(own, callDeadlineUnixMs);
}

export function finishReasonToWire(reason: FinishReason | null): WireFinishReason {
  switch (reason) {
    case 'stop':
      return WireFinishReason.STOP;
    case 'length':
      return WireFinishReason.LENGTH;
    case 'abort':
      return WireFinishReason.ABORT;
    default:
      return WireFinishReason.UNSPECIFIED;
  }
}

/** The gRPC Usage message of an engine's usage (its counts; preemptions stay in the worker's metrics). */
export function usageToWire(usage: RequestUsage): MessageInitShape<typeof UsageSchema> {
  return usageCounts(usage);
}

export function roleToWire(role: Role): WorkerRole {
  return role === 'prefill' ? WorkerRole.PREFILL : role === 'decode' ? WorkerRole.DECODE : WorkerRole.BOTH;
}

export function policyFromWire(policy: KvLoadFailurePolicy, fallback: 'recompute' | 'fail'): 'recompute' | 'fail' {
  if (policy === KvLoadFailurePolicy.FAIL) return 'fail';
  if (policy === KvLoadFailurePolicy.RECOMPUTE) return 'recompute';
  return fallback;
}

/**
 * The wire handoff for a hold of this worker's engine.
 * - SIM (the simulated engine): nothing moves (the decode side charges the link model's time);
 *   host and port are this worker's gRPC address, which serves PullKv and ReleaseKv for it.
 * - TCP (an engine with a block server, the reference engine): host and port are the block
 *   server the decode engine reads the blocks from; the layout says what one block holds.
 * `layout.block_bytes` is per tensor-parallel rank.
 */
export function handoffToWire(
  handoff: KvHandoff,
  info: EngineInfo,
  self: WorkerAddress,
): MessageInitShape<typeof KvHandoffSchema> {
  const common = {
    remoteEngineId: handoff.engineId,
    remoteRequestId: handoff.handoffId,
    blockGroups: [{ blockIds: [...handoff.blockIds] }],
    blockSize: handoff.blockSize,
    numTokens: handoff.numTokens,
    tpSize: handoff.tpSize,
    expiresAtUnixMs: handoff.expiresAtMs,
    dpRank: info.dataParallelRank,
  };
  if (handoff.transport === 'tcp') {
    if (handoff.host === undefined || handoff.port === undefined || handoff.layout === undefined)
      throw new TandemError('internal', `TCP handoff ${handoff.handoffId} lacks its block server address or layout`);
    const tp = Math.max(1, handoff.tpSize);
    return {
      ...common,
      transport: KvTransport.TCP,
      host: handoff.host,
      port: handoff.port,
      layout: { ...handoff.layout, blockBytes: handoff.blockBytes / tp },
    };
  }
  return {
    ...common,
    transport: KvTransport.SIM,
    host: self.host,
    port: self.port,
    layout: layoutOf(info, handoff.blockBytes, handoff.tpSize),
  };
}

function layoutOf(info: EngineInfo, blockBytes: number, tpSize: number) {
  const tp = Math.max(1, tpSize);
  let model: ReturnType<typeof modelProfile> | undefined;
  try {
    model = modelProfile(info.model);
  } catch {
    model = undefined; // an engine without a profile still has block bytes
  }
  if (!model) return { numLayers: 0, numKvHeads: 0, headDim: 0, dtype: 'bfloat16', blockBytes: blockBytes / tp };
  // KV heads are split across TP ranks (replicated when there are fewer heads than ranks).
  const headsPerRank = Math.ceil(model.kvHeads / tp);
  return {
    numLayers: model.layers,
    numKvHeads: headsPerRank,
    headDim: model.headDim,
    dtype: 'bfloat16',
    blockBytes: (blockBytes * headsPerRank) / model.kvHeads,
  };
}

/**
 * The engine's view of a handoff another worker (or this one) returned. SIM: block bytes are
 * this engine's own (a pull between engines of different models is refused before it gets
 * here). TCP: the block server's address and the layout as the holder described them, so the
 * pulling engine can check them against its own before any byte moves.
 */
export function handoffFromWire(handoff: WireKvHandoff, info: EngineInfo): KvHandoff {
  const common = {
    engineId: handoff.remoteEngineId,
    handoffId: handoff.remoteRequestId,
    blockIds: handoff.blockGroups.flatMap((group) => group.blockIds),
    blockSize: handoff.blockSize,
    numTokens: handoff.numTokens,
    tpSize: handoff.tpSize,
    expiresAtMs: handoff.expiresAtUnixMs,
  };
  if (handoff.transport === KvTransport.TCP) {
    const layout = handoff.layout;
    return {
      ...common,
      blockBytes: (layout?.blockBytes ?? 0) * Math.max(1, handoff.tpSize),
      transport: 'tcp',
      host: handoff.host,
      port: handoff.port,
      ...(layout
        ? {
            layout: {
              numLayers: layout.numLayers,
              numKvHeads: layout.numKvHeads,
              headDim: layout.headDim,
              dtype: layout.dtype,
            },
          }
        : {}),
    };
  }
  return { ...common, blockBytes: info.blockBytes };
}
