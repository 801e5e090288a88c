import { codeFromGrpcStatus, TandemError, toTandemError } from '../../common/errors.ts';
import {
  KvLoadFailurePolicy,
  KvTransport,
  WorkerService,
  type TokenChunk as WireChunk,
} from '../../proto/gen/tandem/v1/worker_pb.ts';
import {
  createGrpcClient,
  GrpcStatus,
  RpcError,
  type RpcCallOptions,
  type MessageStream,
} from '../../proto/grpc/index.ts';
import type { TokenLogprob } from '../serving.ts';
import type { GenerateCall, BackendChunk, WorkerBackend } from './backend.ts';
import { fromFinish, fromLogprob, fromStatus, fromUsage, tandemHandoff, toSampling } from './grpc-wire.ts';

export interface GrpcBackendOptions {
  /** The worker's name, for error messages. */
  readonly name: string;
  /** "host:port" of tandem.v1.WorkerService. */
  readonly address: string;
}

/** Metadata key carrying the data-parallel rank a request is pinned to (as vLLM's HTTP header). */
export const DP_RANK_METADATA = 'x-data-parallel-rank';

/**
 * A Tandem worker over gRPC (tandem.v1.WorkerService) through proto/grpc's typed client. Aborting
 * a call's signal cancels the RPC (the worker's handler sees its own signal abort). gRPC status
 * codes map to TandemError codes through common/errors.ts `codeFromGrpcStatus`.
 */
export function createGrpcBackend(options: GrpcBackendOptions): WorkerBackend {
  if (!/^[^\s/]+:\d+$/.test(options.address)) {
    throw new TandemError(
      'invalid_request',
      `worker ${options.name}: a grpc address is "host:port", got "${options.address}"`,
      { param: 'workers.address' },
    );
  }
  const client = createGrpcClient(WorkerService, options.address);
  const fail = (error: unknown, signal: AbortSignal | undefined, what: string): TandemError => {
    if (signal?.aborted) return toTandemError(signal.reason, 'cancelled');
    if (error instanceof RpcError) {
      // The worker vanished under a running call (its process died, the network failed), or
      // its side cancelled a call this side did not: an upstream failure, never the client's cancel.
      if (error.connectionLost || error.code === GrpcStatus.CANCELLED) {
        return new TandemError(
          'upstream_error',
          `worker ${options.name} failed mid-${what}: ${error.connectionLost ? error.message : 'the worker cancelled the call'}`,
          { cause: error },
        );
      }
      return new TandemError(codeFromGrpcStatus(error.code), `worker ${options.name} ${what}: ${error.message}`, {
        cause: error,
      });
    }
    return toTandemError(error, 'upstream_error');
  };
  const callOptions = (call: GenerateCall, signal: AbortSignal): RpcCallOptions => ({
    signal,
    ...(deadlineUsable(call.deadlineUnixMs) ? { deadlineUnixMs: call.deadlineUnixMs } : {}),
    ...(call.dpRank === undefined ? {} : { metadata: { [DP_RANK_METADATA]: String(call.dpRank) } }),
  });
  const request = (call: GenerateCall) => {
    if (call.extraBody !== undefined && Object.keys(call.extraBody).length > 0)
      throw new TandemError(
        'invalid_request',
        `worker ${options.name} (grpc) takes no extra body fields (${Object.keys(call.extraBody).join(', ')})`,
      );
    return plain(call);
  };
  const plain = (call: GenerateCall) => ({
    requestId: call.requestId,
    tokenIds: [...call.tokenIds],
    sampling: toSampling(call.sampling),
    deadlineUnixMs: deadlineUsable(call.deadlineUnixMs) ? call.deadlineUnixMs : 0,
    model: '',
  });

  /**
   * The worker's chunks as BackendChunks, already coalesced: each pull takes every message the
   * call has received since the last one and merges their tokens into one chunk (one promise per
   * batch, not a generator step per message), so a consumer that falls behind catches up in one
   * step. Marked `coalesced` for the dispatcher, which then adds no merging layer of its own.
   */
  function stream(
    source: MessageStream<WireChunk>,
    signal: AbortSignal,
    what: string,
  ): AsyncIterable<BackendChunk> & AsyncIterator<BackendChunk> & { readonly coalesced: true } {
    let finished = false;
    let complete = false;
    const end = (): never => {
      finished = true;
      if (signal.aborted) throw toTandemError(signal.reason, 'cancelled');
      throw new TandemError(
        'upstream_error',
        `worker ${options.name} ended the ${what} stream without a finish reason`,
      );
    };
    const onBatch = (batch: WireChunk[]): IteratorResult<BackendChunk> | Promise<IteratorResult<BackendChunk>> => {
      if (batch.length === 0) return end();
      let tokenIds: number[] | undefined;
      // Logprobs only when the worker sent some (the request asked): one per token.
      let logprobs: TokenLogprob[] | undefined;
      for (const chunk of batch) {
        if (chunk.logprobs.length > 0) (logprobs ??= []).push(...chunk.logprobs.map(fromLogprob));
        const finishReason = fromFinish(chunk.finishReason);
        if (finishReason === undefined) {
          if (chunk.tokenIds.length > 0)
            tokenIds = tokenIds === undefined ? chunk.tokenIds : tokenIds.concat(chunk.tokenIds);
          continue;
        }
        // The worker ends the call itself right after its last chunk (trailers follow): no
        // cancel, so no RST_STREAM and no cancelled handler on its side.
        finished = true;
        complete = true;
        const all = tokenIds === undefined ? chunk.tokenIds : tokenIds.concat(chunk.tokenIds);
        return {
          done: false,
          value: {
            tokenIds: all,
            finishReason,
            usage: fromUsage(chunk.usage),
            ...(logprobs === undefined ? {} : { logprobs }),
          },
        };
      }
      return tokenIds === undefined
        ? pull()
        : { done: false, value: { tokenIds, ...(logprobs === undefined ? {} : { logprobs }) } };
    };
    const onError = (error: unknown): never => {
      finished = true;
      throw fail(error, signal, what);
    };
    const pull = (): Promise<IteratorResult<BackendChunk>> =>
      finished ? Promise.resolve({ done: true, value: undefined }) : source.nextBatch().then(onBatch, onError);
    const iterator = {
      coalesced: true as const,
      next: pull,
      async return(): Promise<IteratorResult<BackendChunk>> {
        finished = true;
        if (!complete) source.cancel();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  return {
    kind: 'grpc',
    address: options.address,

    generate(call, signal) {
      return stream(client.generate(request(call), callOptions(call, signal)), signal, 'Generate');
    },

    async prefill(call, signal) {
      try {
        const response = await client.prefill(
          { ...request(call), transport: KvTransport.UNSPECIFIED },
          callOptions(call, signal),
        );
        const handoff = response.handoff;
        return {
          firstTokenId: response.firstTokenId,
          ...(response.firstTokenLogprob ? { firstTokenLogprob: fromLogprob(response.firstTokenLogprob) } : {}),
          finishReason: fromFinish(response.finishReason) ?? null,
          usage: fromUsage(response.usage),
          handoff: handoff ? { kind: 'tandem', handoff, remoteRequestId: handoff.remoteRequestId } : null,
        };
      } catch (error) {
        throw fail(error, signal, 'Prefill');
      }
    },

    decode(call, signal) {
      const handoff = tandemHandoff(call.handoff, options.name);
      const body = {
        ...request(call),
        handoff,
        ...(call.firstTokenId === undefined ? {} : { firstTokenId: call.firstTokenId }),
        loadFailurePolicy: call.loadFailurePolicy === 'fail' ? KvLoadFailurePolicy.FAIL : KvLoadFailurePolicy.RECOMPUTE,
      };
      return stream(client.decode(body, callOptions(call, signal)), signal, 'Decode');
    },

    async release(ticket, signal) {
      if (ticket.kind !== 'tandem')
        throw new TandemError(
          'invalid_request',
          `worker ${options.name} (grpc) cannot release a ${ticket.kind} handoff`,
        );
      try {
        const response = await client.releaseKv({ remoteRequestId: ticket.remoteRequestId }, signal ? { signal } : {});
        return { found: response.found, releasedBlocks: response.releasedBlocks };
      } catch (error) {
        throw fail(error, signal, 'ReleaseKv');
      }
    },

    async status(signal) {
      try {
        return fromStatus(await client.getStatus({}, { signal }));
      } catch (error) {
        throw fail(error, signal, 'GetStatus');
      }
    },

    async close() {
      client.close();
    },
  };
}

/** gRPC deadlines must be real dates; "no deadline" sentinels (far future) are left out. */
function deadlineUsable(deadlineUnixMs: number): boolean {
  return Number.isFinite(deadlineUnixMs) && deadlineUnixMs > 0 && deadlineUnixMs < 8.64e15;
}
