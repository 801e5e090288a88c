import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { createRng } from '../../common/rng.ts';
import { blockStored, type ExternalBlockHash, type KvCacheEvent } from '../../proto/kv-events/index.ts';
import { createKvEventPublisher, type KvEventPublisher } from '../../workers/kv-events/index.ts';

/**
 * The workers' side of the KV-event storm: `workers` real ZMQ publishers (vLLM's wire format)
 * on loopback. They run in a child process by default, as workers do, so the storm's event-loop
 * figures are the orchestrator's ingest alone: in the measuring process, the publishers' own
 * sending (62,500 ZMQ sends per 1M-block burst, not paced) held its loop for up to 130 ms.
 *
 * A burst is prepared first (events built, nothing sent), then `publish` sends it all: chains
 * of `blocksPerBatch`-block BlockStored runs, each run a child of the previous one of its
 * worker, one event per batch, round-robin over the workers.
 */
export interface StormPublishers {
  readonly endpoints: readonly string[];
  /** Publishes a one-block root run on each worker in `workers` (subscription warm-up). */
  warm(workers: readonly number[]): Promise<void>;
  /** Builds the next burst's events; returns its batch count. */
  prepare(blocks: number, blocksPerBatch: number): Promise<number>;
  /** Publishes the prepared burst (returns once it is handed to ZMQ). */
  publish(): Promise<void>;
  close(): Promise<void>;
}

export interface StormPublisherOptions {
  readonly workers: number;
  readonly blockSize: number;
  readonly seed: number;
  /**
   * The child process's priority (nice, 0-19; default 0). Workers run on other machines; here
   * their publishing competes with the orchestrator for the same cores.
   */
  readonly nice?: number;
}

/** Publishers in this process. */
export async function createLocalPublishers(options: StormPublisherOptions): Promise<StormPublishers> {
  const rng = createRng(options.seed);
  const publishers: KvEventPublisher[] = [];
  try {
    for (let w = 0; w < options.workers; w++)
      publishers.push(await createKvEventPublisher({ endpoint: 'tcp://127.0.0.1:0', hwm: 1_000_000 }));
  } catch (error) {
    await Promise.all(publishers.map((p) => p.close()));
    throw error;
  }
  let nextHash = 1n;
  const storedEvent = (blocks: number, parent: ExternalBlockHash | null) => {
    const tokenIds = new Array<number>(blocks * options.blockSize);
    for (let i = 0; i < tokenIds.length; i++) tokenIds[i] = rng.int(151_936);
    const blockHashes = Array.from({ length: blocks }, () => BigInt.asUintN(64, nextHash++ * 0x9e3779b97f4a7c15n));
    return blockStored({ blockHashes, parentBlockHash: parent, tokenIds, blockSize: options.blockSize });
  };
  let prepared: [number, KvCacheEvent][] = [];
  return {
    endpoints: publishers.map((p) => p.endpoint),
    async warm(workers) {
      for (const w of workers) publishers[w]!.publish([storedEvent(1, null)]);
    },
    async prepare(blocks, blocksPerBatch) {
      prepared = [];
      const parents: (ExternalBlockHash | null)[] = publishers.map(() => null);
      for (let sent = 0, w = 0; sent < blocks; w = (w + 1) % publishers.length) {
        const n = Math.min(blocksPerBatch, blocks - sent);
        const event = storedEvent(n, parents[w]!);
        parents[w] = event.blockHashes[n - 1]!;
        prepared.push([w, event]);
        sent += n;
      }
      return prepared.length;
    },
    async publish() {
      for (const [w, event] of prepared) publishers[w]!.publish([event]);
      prepared = [];
    },
    async close() {
      await Promise.all(publishers.map((p) => p.close()));
    },
  };
}

type Request =
  | { id: number; op: 'endpoints' }
  | { id: number; op: 'warm'; workers: readonly number[] }
  | { id: number; op: 'prepare'; blocks: number; blocksPerBatch: number }
  | { id: number; op: 'publish' };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
type Reply = { id: number; value?: unknown; error?: string };

/** Publishers in a child process (this file, run with `--storm-publishers <json options>`), driven over IPC. */
export async function createChildPublishers(options: StormPublisherOptions): Promise<StormPublishers> {
  const child = fork(new URL(import.meta.url).pathname, ['--storm-publishers', JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (options.nice) setPriority(child.pid!, options.nice);
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`storm publishers exited (code ${code})`));
    waiting.clear();
  });
  child.on('message', (reply: Reply) => {
    const w = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.error !== undefined) w?.reject(new Error(reply.error));
    else w?.resolve(reply.value);
  });
  let nextId = 0;
  const call = (request: DistributiveOmit<Request, 'id'>) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.send({ ...request, id });
    });
  try {
    const endpoints = (await call({ op: 'endpoints' })) as string[];
    return {
      endpoints,
      warm: async (workers) => void (await call({ op: 'warm', workers })),
      prepare: async (blocks, blocksPerBatch) => (await call({ op: 'prepare', blocks, blocksPerBatch })) as number,
      publish: async () => void (await call({ op: 'publish' })),
      async close() {
        child.disconnect();
        await exited;
      },
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}

async function serveChild(options: StormPublisherOptions): Promise<void> {
  const local = await createLocalPublishers(options);
  process.on('disconnect', () => {
    void local.close().then(() => process.exit(0));
  });
  process.on('message', (request: Request) => {
    const run = async (): Promise<unknown> => {
      switch (request.op) {
        case 'endpoints':
          return local.endpoints;
        case 'warm':
          return local.warm(request.workers);
        case 'prepare':
          return local.prepare(request.blocks, request.blocksPerBatch);
        case 'publish':
          return local.publish();
      }
    };
    run().then(
      (value) => process.send!({ id: request.id, value } satisfies Reply),
      (error: Error) => process.send!({ id: request.id, error: error.message } satisfies Reply),
    );
  });
}

if (process.argv[2] === '--storm-publishers') await serveChild(JSON.parse(process.argv[3]!) as StormPublisherOptions);
