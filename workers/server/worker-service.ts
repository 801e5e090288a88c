import type { MessageInitShape } from '@bufbuild/protobuf';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import {
  KvTransport,
  type WorkerService,
  type KvHandoff as WireKvHandoff,
  type TokenChunkSchema,
} from '../../proto/gen/tandem/v1/worker_pb.ts';
import type { ServiceHandlers } from '../../proto/grpc/index.ts';
import type { Engine, EngineInfo, TokenChunk } from '../engine/engine-api.ts';
import type { LatencyObserver, WorkerMetrics } from '../metrics/index.ts';
import type { KvPeers } from './kv-peers.ts';
import { startRemoteDecode } from './remote-decode.ts';
import {
  deadlineOf,
  finishReasonToWire,
  handoffFromWire,
  handoffToWire,
  logprobToWire,
  policyFromWire,
  roleToWire,
  samplingFromWire,
  usageToWire,
  type Role,
  type WorkerAddress,
} from './wire.ts';

/** A KV-event stream of this worker, as GetStatus reports it (connectable addresses). */
export interface KvEventEndpointInfo {
  readonly endpoint: string;
  readonly replayEndpoint: string;
  readonly topic: string;
  readonly dpRank: number;
}

export interface WorkerServiceOptions {
  readonly engine: Engine;
  /** Advertised only; every RPC is served whatever the role (see workers/README.md). */
  readonly role: Role;
  readonly metrics: WorkerMetrics;
  readonly peers: KvPeers;
  /** This worker's advertised gRPC address, known once the server is bound. */
  readonly self: () => WorkerAddress;
  readonly kvEventEndpoints: () => readonly KvEventEndpointInfo[];
  /** Names a request's `model` may carry (empty always passes). */
  readonly modelNames: readonly string[];
  /** Used when a Decode leaves load_failure_policy unspecified. */
  readonly defaultLoadFailurePolicy: 'recompute' | 'fail';
  /**
   * The engine's TCP block server (GetStatus kv_transfer_port), or 0 when its handoffs are SIM.
   * Non-zero also means its decodes pull TCP handoffs themselves.
   */
  readonly kvTransferPort?: number;
  readonly logger: Logger;
}

type ChunkInit = MessageInitShape<typeof TokenChunkSchema>;

/**
 * tandem.v1.WorkerService over an Engine: translation only (wire.ts), plus the decode side's
 * KV control plane (remote-decode.ts). Engine errors are TandemErrors, whose `grpcStatus` the
 * adapter answers with; a cancelled or expired call aborts the engine request through the
 * call's signal.
 */
export function createWorkerService(options: WorkerServiceOptions): ServiceHandlers<typeof WorkerService> {
  const { engine, metrics, peers, logger } = options;
  const info = engine.info;
  const kvTransferPort = options.kvTransferPort ?? 0;
  const ownTransport = kvTransferPort > 0 ? KvTransport.TCP : KvTransport.SIM;
  let anonymous = 0;
  const requestIdOf = (id: string) => (id !== '' ? id : `grpc-${++anonymous}`);
  const checkModel = (model: string) => {
    if (model !== '' && !options.modelNames.includes(model))
      throw new TandemError('model_not_found', `The model \`${model}\` does not exist.`, { param: 'model' });
  };

  return {
    async *generate(request, context) {
      checkModel(request.model);
      const observer = metrics.startRequest();
      const stream = engine.generate(
        {
          requestId: requestIdOf(request.requestId),
          promptTokenIds: request.tokenIds,
          sampling: samplingFromWire(request.sampling),
          deadlineMs: deadlineOf(request.deadlineUnixMs, context.deadlineUnixMs),
        },
        { signal: context.signal },
      );
      yield* relay(stream, observer);
    },

    async prefill(request, context) {
      checkModel(request.model);
      if (request.transport !== KvTransport.UNSPECIFIED && request.transport !== ownTransport) {
        throw new TandemError(
          'failed_precondition',
          `this worker hands KV off over transport ${KvTransport[ownTransport]} only (asked for ${KvTransport[request.transport]})`,
          { param: 'transport' },
        );
      }
      const observer = metrics.startRequest();
      const requestId = requestIdOf(request.requestId);
      let result;
      try {
        result = await engine.prefill(
          {
            requestId,
            promptTokenIds: request.tokenIds,
            sampling: samplingFromWire(request.sampling),
            deadlineMs: deadlineOf(request.deadlineUnixMs, context.deadlineUnixMs),
          },
          { signal: context.signal },
        );
      } catch (error) {
        observer.finish('abort');
        throw error;
      }
      observer.tokens(1);
      observer.finish(result.finishReason ?? 'length');
      let handoff = result.handoff;
      // The wire contract: a request the first token already finished holds nothing (the engine
      // holds on max_tokens 1 for vLLM's NIXL flow, which the HTTP facade serves).
      if (handoff && result.finishReason !== null) {
        engine.release(handoff.handoffId);
        handoff = null;
      }
      return {
        requestId,
        firstTokenId: result.firstTokenId,
        finishReason: finishReasonToWire(result.finishReason),
        usage: usageToWire(result.usage),
        ...(handoff ? { handoff: handoffToWire(handoff, info, options.self()) } : {}),
        ...(result.firstTokenLogprob ? { firstTokenLogprob: logprobToWire(result.firstTokenLogprob) } : {}),
      };
    },

    async *decode(request, context) {
      checkModel(request.model);
      if (!request.handoff)
        throw new TandemError('invalid_request', 'a decode needs the handoff its prefill returned', {
          param: 'handoff',
        });
      const observer = metrics.startRequest();
      const wire = request.handoff;
      let decode;
      try {
        decode = await startRemoteDecode({
          engine,
          peers,
          request: {
            requestId: requestIdOf(request.requestId),
            promptTokenIds: request.tokenIds,
            sampling: samplingFromWire(request.sampling),
            deadlineMs: deadlineOf(request.deadlineUnixMs, context.deadlineUnixMs),
          },
          handoff: handoffFromWire(wire, info),
          peer: { host: wire.host, port: wire.port, engineId: wire.remoteEngineId, handoffId: wire.remoteRequestId },
          unusable: unusableHandoff(wire, info),
          pullsTcp: kvTransferPort > 0,
          firstTokenId: request.firstTokenId,
          loadFailurePolicy: policyFromWire(request.loadFailurePolicy, options.defaultLoadFailurePolicy),
          signal: context.signal,
          logger,
        });
      } catch (error) {
        observer.finish('abort');
        throw error;
      }
      // The first token came from the prefill worker: this worker's first token is an inter-token gap.
      if (request.firstTokenId !== undefined) observer.tokens(1);
      yield* relay(decode.chunks, observer);
    },

    async pullKv(request) {
      if (request.remoteEngineId !== '' && request.remoteEngineId !== info.engineId) return { held: false };
      const held = engine.heldKv(request.remoteRequestId);
      return held ? { held: true, numBlocks: held.numBlocks, numTokens: held.numTokens } : { held: false };
    },

    async releaseKv(request) {
      const result = engine.release(request.remoteRequestId);
      return { found: result.found, releasedBlocks: result.releasedBlocks };
    },

    async getStatus() {
      const status = engine.status();
      return {
        engineId: info.engineId,
        role: roleToWire(options.role),
        engineKind: info.kind,
        gpu: info.gpu,
        model: info.model,
        tpSize: info.tpSize,
        blockSize: info.blockSize,
        maxModelLen: info.maxModelLen,
        totalBlocks: status.totalBlocks,
        usedBlocks: status.usedBlocks,
        cachedBlocks: status.cachedBlocks,
        heldBlocks: status.heldBlocks,
        runningRequests: status.runningRequests,
        waitingRequests: status.waitingRequests,
        queuedPrefillTokens: status.queuedPrefillTokens,
        kvEventEndpoints: options.kvEventEndpoints().map((e) => ({ ...e })),
        kvTransferPort,
        startedAtUnixMs: info.startedAtMs,
        prefixCacheQueriesTokens: status.prefixCacheQueriesTokens,
        prefixCacheHitsTokens: status.prefixCacheHitsTokens,
      };
    },
  };
}

/**
 * Why this engine cannot pull a handoff whatever its holder says, or undefined when it may try.
 * TCP handoffs are checked by the pulling engine itself (layout, block count, address).
 */
function unusableHandoff(wire: WireKvHandoff, info: EngineInfo): string | undefined {
  if (wire.transport === KvTransport.TCP) return undefined;
  if (wire.transport !== KvTransport.SIM && wire.transport !== KvTransport.UNSPECIFIED)
    return `transport ${KvTransport[wire.transport]} is not one this engine pulls over`;
  if (wire.blockSize !== info.blockSize)
    return `block size ${wire.blockSize} differs from this engine's ${info.blockSize}`;
  if (wire.host === '' || wire.port === 0) return 'the handoff names no host and port';
  return undefined;
}

/** Engine chunks as wire chunks, recorded in the metrics. Leaving early (the call was cancelled) cancels the engine request and counts an abort. */
async function* relay(chunks: AsyncIterable<TokenChunk>, observer: LatencyObserver): AsyncGenerator<ChunkInit> {
  let finished = false;
  try {
    for await (const chunk of chunks) {
      observer.tokens(chunk.tokenIds.length);
      if (chunk.finishReason !== null) {
        finished = true;
        observer.finish(chunk.finishReason);
      }
      yield {
        tokenIds: [...chunk.tokenIds],
        finishReason: finishReasonToWire(chunk.finishReason),
        ...(chunk.usage ? { usage: usageToWire(chunk.usage) } : {}),
        ...(chunk.logprobs ? { logprobs: chunk.logprobs.map(logprobToWire) } : {}),
      };
    }
  } finally {
    if (!finished) observer.finish('abort');
  }
}
