import type { MessageInitShape } from '@bufbuild/protobuf';
import { TandemError } from '../../common/errors.ts';
import { usageCounts } from '../../common/usage.ts';
import {
  FinishReason as WireFinish,
  WorkerRole,
  type KvHandoff,
  type SamplingParamsSchema,
  type TokenLogprob as WireLogprob,
  type Usage as WireUsage,
  type WorkerStatus,
} from '../../proto/gen/tandem/v1/worker_pb.ts';
import type { FinishReason, SamplingOptions, TokenLogprob } from '../serving.ts';
import type { AnnouncedRole, BackendUsage, KvHandoffTicket, RankLoad, WorkerStatusReport } from './backend.ts';

/**
 * The grpc backend's translation between its own types and tandem.v1's messages
 * (proto/tandem/v1/worker.proto): sampling out; finish reasons, usage, logprobs and status in;
 * a Tandem handoff ticket back to the KvHandoff message it carried. Pure: no I/O.
 */

export function toSampling(sampling: SamplingOptions): MessageInitShape<typeof SamplingParamsSchema> {
  return {
    maxTokens: sampling.maxTokens,
    temperature: sampling.temperature,
    topP: sampling.topP,
    ...(sampling.seed === undefined ? {} : { seed: BigInt.asUintN(64, BigInt(Math.trunc(sampling.seed))) }),
    stopTokenIds: [...sampling.stopTokenIds],
    ignoreEos: sampling.ignoreEos,
    minTokens: sampling.minTokens,
    topK: Math.max(0, sampling.topK ?? 0),
    minP: sampling.minP ?? 0,
    presencePenalty: sampling.presencePenalty ?? 0,
    frequencyPenalty: sampling.frequencyPenalty ?? 0,
    repetitionPenalty: sampling.repetitionPenalty ?? 1,
    ...(sampling.logprobs === undefined ? {} : { logprobs: sampling.logprobs }),
  };
}

export function fromLogprob(wire: WireLogprob): TokenLogprob {
  return { logprob: wire.logprob, top: wire.top.map((t) => ({ tokenId: t.tokenId, logprob: t.logprob })) };
}

export function fromFinish(reason: WireFinish): FinishReason | undefined {
  switch (reason) {
    case WireFinish.STOP:
      return 'stop';
    case WireFinish.LENGTH:
      return 'length';
    case WireFinish.ABORT:
      return 'abort';
    default:
      return undefined;
  }
}

export function fromUsage(usage: WireUsage | undefined): BackendUsage {
  return usage ? usageCounts(usage) : { promptTokens: 0, cachedPromptTokens: 0, completionTokens: 0 };
}

export function tandemHandoff(ticket: KvHandoffTicket, worker: string): KvHandoff {
  if (ticket.kind !== 'tandem')
    throw new TandemError('invalid_request', `worker ${worker} (grpc) cannot decode from a ${ticket.kind} handoff`);
  return ticket.handoff as KvHandoff;
}

const ROLES: Partial<Record<WorkerRole, AnnouncedRole>> = {
  [WorkerRole.PREFILL]: 'prefill',
  [WorkerRole.DECODE]: 'decode',
  [WorkerRole.BOTH]: 'both',
};

/**
 * GetStatus as a status report. The worker reports its load as a whole: when it announces
 * several data-parallel ranks, the figures are split evenly across them (an approximation the
 * wire forces; a single-rank worker is exact).
 */
export function fromStatus(status: WorkerStatus): WorkerStatusReport {
  const endpoints = status.kvEventEndpoints.map((e) => ({
    endpoint: e.endpoint,
    replayEndpoint: e.replayEndpoint === '' ? undefined : e.replayEndpoint,
    topic: e.topic,
    dpRank: e.dpRank,
  }));
  const ranks = [...new Set(endpoints.map((e) => e.dpRank))].sort((a, b) => a - b);
  if (ranks.length === 0) ranks.push(0);
  const share = 1 / ranks.length;
  const load: RankLoad[] = ranks.map((dpRank) => ({
    dpRank,
    report: {
      runningRequests: status.runningRequests * share,
      waitingRequests: status.waitingRequests * share,
      queuedPrefillTokens: status.queuedPrefillTokens * share,
      activeKvBlocks: Math.max(0, status.usedBlocks - status.heldBlocks) * share,
      ...(status.totalBlocks > 0 ? { totalKvBlocks: status.totalBlocks * share } : {}),
    },
  }));
  return {
    engineId: status.engineId === '' ? null : status.engineId,
    role: ROLES[status.role] ?? null,
    engineKind: status.engineKind === '' ? 'unknown' : status.engineKind,
    gpu: status.gpu === '' ? null : status.gpu,
    model: status.model === '' ? null : status.model,
    tp: status.tpSize === 0 ? null : status.tpSize,
    blockSize: status.blockSize === 0 ? null : status.blockSize,
    maxModelLen: status.maxModelLen === 0 ? null : status.maxModelLen,
    servedModels: [],
    kvEventEndpoints: endpoints,
    load,
    warnings: [],
  };
}
