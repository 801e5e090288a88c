import { setTimeout as sleep } from 'node:timers/promises';
import { FinishReason, WorkerRole, WorkerService } from '../../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcServer, GrpcStatus, RpcError, type CallContext } from '../../proto/grpc/index.ts';
import { createKvEventPublisher, type KvEventPublisher } from '../../workers/kv-events/index.ts';
import { createPrefixCache, type PrefixCache } from './prefix-cache.ts';

/**
 * A test-only Tandem worker: tandem.v1.WorkerService on the real gRPC adapter, a prefix cache
 * that publishes real vLLM KV events over ZMQ (workers/kv-events, with replay), and knobs to
 * make it fail, hang or lie. It stands in for the simulated worker process until that lands;
 * it never computes anything: output token ids are 1000, 1001, ...
 */
export interface FakeWorkerOptions {
  readonly blockSize?: number;
  /** Prefix-cache capacity, blocks (LRU beyond it). Default: unbounded. */
  readonly capacityBlocks?: number;
  /** Delay before each output token, ms. Default 0. */
  readonly tokenDelayMs?: number;
  readonly engineId?: string;
  /** Publish KV events (and announce the endpoints in GetStatus). Default true. */
  readonly kvEvents?: boolean;
  readonly role?: WorkerRole;
  readonly gpu?: string;
  readonly model?: string;
}

/** What the worker does next; tests flip these between requests. */
export interface FakeBehaviour {
  /** Fail Generate before any token with this gRPC status. */
  failBeforeFirstToken: GrpcStatus | null;
  /** Fail Generate after this many tokens (UNAVAILABLE). */
  failAfterTokens: number | null;
  /** Never answer Generate until cancelled. */
  hang: boolean;
  /** GetStatus fails (UNAVAILABLE). */
  statusFails: boolean;
  /** Block size announced in GetStatus (the cache itself keeps its own). */
  announcedBlockSize: number;
  engineId: string;
  /** Added to running_requests in GetStatus (load the router never booked). */
  extraRunning: number;
}

export interface FakeCall {
  readonly requestId: string;
  readonly tokenIds: readonly number[];
  readonly maxTokens: number;
  readonly dpRankMetadata: string | undefined;
  cachedTokens: number;
  tokensSent: number;
  /** How the call ended, or null while it runs. */
  end: 'done' | 'cancelled' | 'failed' | null;
}

export interface FakeGrpcWorker {
  readonly address: string;
  readonly kvEndpoint: string | undefined;
  readonly replayEndpoint: string | undefined;
  readonly calls: FakeCall[];
  readonly behaviour: FakeBehaviour;
  readonly cache: PrefixCache;
  /** Generate calls running now, and the most ever running at once. */
  readonly running: number;
  readonly maxRunning: number;
  statusCalls: number;
  /** Simulates an engine restart: a new engine id, an empty cache, a new KV-event publisher (seq from 0, new ports). */
  restart(): Promise<void>;
  /** Resolves when `n` Generate calls have started. */
  started(n: number): Promise<FakeCall>;
  /** Resolves when call `index` has ended (any way). */
  ended(index: number): Promise<FakeCall>;
  close(): Promise<void>;
}

let engines = 0;

export async function startFakeGrpcWorker(options: FakeWorkerOptions = {}): Promise<FakeGrpcWorker> {
  const blockSize = options.blockSize ?? 16;
  const cache = createPrefixCache(blockSize, options.capacityBlocks ?? Number.MAX_SAFE_INTEGER);
  const startPublisher = () =>
    createKvEventPublisher({ endpoint: 'tcp://127.0.0.1:0', replayEndpoint: 'tcp://127.0.0.1:0', topic: 'kv-events' });
  let publisher: KvEventPublisher | undefined = options.kvEvents === false ? undefined : await startPublisher();
  const behaviour: FakeBehaviour = {
    failBeforeFirstToken: null,
    failAfterTokens: null,
    hang: false,
    statusFails: false,
    announcedBlockSize: blockSize,
    engineId: options.engineId ?? `fake-engine-${++engines}`,
    extraRunning: 0,
  };
  const calls: FakeCall[] = [];
  const waiters: { test: () => FakeCall | undefined; resolve: (call: FakeCall) => void }[] = [];
  const settle = () => {
    for (const waiter of [...waiters]) {
      const call = waiter.test();
      if (call) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(call);
      }
    }
  };
  const waitFor = (test: () => FakeCall | undefined) => {
    const now = test();
    return now ? Promise.resolve(now) : new Promise<FakeCall>((resolve) => waiters.push({ test, resolve }));
  };
  let running = 0;
  let maxRunning = 0;
  const tokenDelayMs = options.tokenDelayMs ?? 0;

  const untilAborted = (context: CallContext) =>
    new Promise<never>((_resolve, reject) => {
      if (context.signal.aborted) reject(context.signal.reason);
      context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true });
    });

  const server = createGrpcServer();
  server.add(WorkerService, {
    async *generate(request, context) {
      const call: FakeCall = {
        requestId: request.requestId,
        tokenIds: request.tokenIds,
        maxTokens: request.sampling?.maxTokens ?? 16,
        dpRankMetadata: context.metadata['x-data-parallel-rank'],
        cachedTokens: 0,
        tokensSent: 0,
        end: null,
      };
      calls.push(call);
      running++;
      maxRunning = Math.max(maxRunning, running);
      settle();
      try {
        if (behaviour.failBeforeFirstToken !== null)
          throw new RpcError(behaviour.failBeforeFirstToken, 'fake worker told to fail before the first token');
        if (behaviour.hang) await untilAborted(context);
        const admitted = cache.admit(request.tokenIds);
        call.cachedTokens = admitted.cachedTokens;
        if (publisher && admitted.events.length > 0) publisher.publish(admitted.events);
        for (let i = 0; i < call.maxTokens; i++) {
          if (tokenDelayMs > 0) await sleep(tokenDelayMs, undefined, { signal: context.signal });
          if (context.signal.aborted) throw context.signal.reason;
          if (behaviour.failAfterTokens !== null && i >= behaviour.failAfterTokens)
            throw new RpcError(GrpcStatus.UNAVAILABLE, 'fake worker told to fail mid-stream');
          call.tokensSent++;
          yield { tokenIds: [1000 + i] };
        }
        call.end = 'done';
        yield {
          finishReason: FinishReason.LENGTH,
          usage: {
            promptTokens: request.tokenIds.length,
            cachedPromptTokens: call.cachedTokens,
            completionTokens: call.tokensSent,
          },
        };
      } catch (error) {
        call.end = context.signal.aborted ? 'cancelled' : 'failed';
        throw error;
      } finally {
        running--;
        settle();
      }
    },
    async prefill(request) {
      const admitted = cache.admit(request.tokenIds);
      if (publisher && admitted.events.length > 0) publisher.publish(admitted.events);
      return {
        requestId: request.requestId,
        firstTokenId: 1000,
        usage: {
          promptTokens: request.tokenIds.length,
          cachedPromptTokens: admitted.cachedTokens,
          completionTokens: 1,
        },
        handoff: {
          remoteEngineId: behaviour.engineId,
          remoteRequestId: `held-${request.requestId}`,
          host: '127.0.0.1',
          port: 1,
          blockSize,
          numTokens: request.tokenIds.length,
        },
      };
    },
    async *decode(request) {
      yield { tokenIds: [1001, 1002] };
      yield {
        finishReason: FinishReason.STOP,
        usage: {
          promptTokens: request.tokenIds.length,
          completionTokens: 3,
          transferredPromptTokens: request.handoff?.numTokens ?? 0,
          transferredBlocks: 2,
        },
      };
    },
    async pullKv(request) {
      return { held: request.remoteRequestId.startsWith('held-'), numBlocks: 4, numTokens: 64 };
    },
    async releaseKv(request) {
      return {
        found: request.remoteRequestId.startsWith('held-'),
        releasedBlocks: request.remoteRequestId.startsWith('held-') ? 4 : 0,
      };
    },
    async getStatus() {
      worker.statusCalls++;
      if (behaviour.statusFails) throw new RpcError(GrpcStatus.UNAVAILABLE, 'fake worker told to fail its status');
      return {
        engineId: behaviour.engineId,
        role: options.role ?? WorkerRole.BOTH,
        engineKind: 'fake',
        gpu: options.gpu ?? 'h100-sxm',
        model: options.model ?? 'qwen3-8b',
        tpSize: 1,
        blockSize: behaviour.announcedBlockSize,
        maxModelLen: 32768,
        totalBlocks: 100_000,
        usedBlocks: running * 4,
        cachedBlocks: cache.size,
        runningRequests: running + behaviour.extraRunning,
        waitingRequests: 0,
        kvEventEndpoints: publisher
          ? [
              {
                endpoint: publisher.endpoint,
                replayEndpoint: publisher.replayEndpoint ?? '',
                topic: 'kv-events',
                dpRank: 0,
              },
            ]
          : [],
      };
    },
  });
  const port = await server.listen('127.0.0.1', 0);
  const worker: FakeGrpcWorker = {
    address: `127.0.0.1:${port}`,
    get kvEndpoint() {
      return publisher?.endpoint;
    },
    get replayEndpoint() {
      return publisher?.replayEndpoint;
    },
    calls,
    behaviour,
    cache,
    get running() {
      return running;
    },
    get maxRunning() {
      return maxRunning;
    },
    statusCalls: 0,
    async restart() {
      behaviour.engineId = `fake-engine-${++engines}`;
      cache.clear();
      if (publisher) {
        await publisher.close();
        publisher = await startPublisher();
      }
    },
    started: (n) => waitFor(() => calls[n - 1]),
    ended: (index) => waitFor(() => (calls[index]?.end ? calls[index] : undefined)),
    async close() {
      await server.close(200);
      await publisher?.close();
    },
  };
  return worker;
}
