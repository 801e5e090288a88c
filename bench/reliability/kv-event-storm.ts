import { silentLogger, type Logger } from '../../common/log.ts';
import { createRng } from '../../common/rng.ts';
import { createKvEventSubscriber, type KvEventSubscriber } from '../../orchestrator/kv-events/index.ts';
import { createPreciseIndex } from '../../orchestrator/kv-index/precise-index.ts';
import { blockStored, type ExternalBlockHash, type KvCacheEvent } from '../../proto/kv-events/index.ts';
import { createKvEventPublisher, type KvEventPublisher } from '../../workers/kv-events/index.ts';
import { startLoopLagProbe, type LoopLag } from './loop-lag.ts';

/**
 * A KV-event storm against the orchestrator's ingest path, in one process: `workers` publishers
 * (ZMQ PUB on loopback, vLLM's wire format) and, for each, the orchestrator's real subscriber
 * feeding one precise index. The burst is published first (the subscribers cannot read while
 * it is being published: one thread), so `blocks` blocks of BlockStored events sit in ZMQ's
 * queues when the clock starts; the figure is how long the event loop was held while the
 * subscribers ingested them (loop-lag.ts: the largest gap between ticks of a 1 ms interval, and
 * the main thread's own run time in the gaps, which the load average does not inflate). Bursts run back to back on the same index: the first is the cold start.
 */
export interface StormOptions {
  /** Blocks per burst, across all workers. */
  readonly blocks: number;
  /** Blocks per BlockStored event (one event per batch: one engine step of one prompt). */
  readonly blocksPerBatch: number;
  readonly workers: number;
  readonly bursts: number;
  readonly blockSize: number;
  readonly seed: number;
  /** Handle each burst without time slicing (the code before slicing, for comparison). */
  readonly unsliced?: boolean;
  readonly logger?: Logger;
}

export interface BurstFigures {
  readonly blocks: number;
  readonly batches: number;
  /** From the end of publishing to the last block indexed, ms. */
  readonly ingestMs: number;
  readonly blocksPerSecond: number;
  /** The event loop during ingest (loop-lag.ts). */
  readonly lag: LoopLag;
  /** Longest single applyBatch call, wall ms (one batch is never split). */
  readonly maxApplyMs: number;
}

export async function runKvEventStorm(options: StormOptions): Promise<BurstFigures[]> {
  const logger = options.logger ?? silentLogger;
  const index = createPreciseIndex({ hashSeed: 0, defaultBlockSize: options.blockSize, logger });
  const rng = createRng(options.seed);
  const publishers: KvEventPublisher[] = [];
  const subscribers: KvEventSubscriber[] = [];
  let indexed = 0;
  let maxApplyMs = 0;
  try {
    for (let w = 0; w < options.workers; w++) {
      const publisher = await createKvEventPublisher({ endpoint: 'tcp://127.0.0.1:0', hwm: 1_000_000 });
      publishers.push(publisher);
      const tenant = `w${w}`;
      index.registerWorker(tenant, { blockSize: options.blockSize });
      subscribers.push(
        createKvEventSubscriber({
          endpoint: publisher.endpoint,
          receiveHighWaterMark: 1_000_000,
          ...(options.unsliced ? { slicer: { pace: () => undefined, yields: 0 } } : {}),
          logger,
          onBatch: (_seq, batch) => {
            const t = performance.now();
            indexed += index.applyBatch(tenant, batch).stored;
            maxApplyMs = Math.max(maxApplyMs, performance.now() - t);
          },
          onReset: () => index.clearWorker(tenant),
        }),
      );
    }
    await waitFor(() => subscribers.every((s) => s.stats().connected), 5000, 'subscribers to connect');
    // ZMQ drops what a SUB receives before its subscription is through: a warm-up batch each.
    const warm = publishers.map(() => 0);
    for (let tries = 0; tries < 100 && subscribers.some((s, w) => s.stats().batchesDelivered <= warm[w]!); tries++) {
      publishers.forEach((p, w) => {
        if (subscribers[w]!.stats().batchesDelivered === 0) p.publish([storedEvent(rng, options.blockSize, 1, null)]);
      });
      await new Promise((r) => setTimeout(r, 20));
    }

    const figures: BurstFigures[] = [];
    for (let b = 0; b < options.bursts; b++) {
      const target = indexed + options.blocks;
      let batches = 0;
      // Chains of blocksPerBatch-block runs, each a child of the previous one of its worker.
      const parents: (ExternalBlockHash | null)[] = publishers.map(() => null);
      for (let sent = 0, w = 0; sent < options.blocks; w = (w + 1) % publishers.length) {
        const n = Math.min(options.blocksPerBatch, options.blocks - sent);
        const event = storedEvent(rng, options.blockSize, n, parents[w]!);
        parents[w] = event.blockHashes[n - 1]!;
        publishers[w]!.publish([event]);
        sent += n;
        batches++;
      }
      maxApplyMs = 0;
      const probe = startLoopLagProbe();
      const started = performance.now();
      await waitFor(() => indexed >= target, 120_000, `${options.blocks} blocks to be indexed`);
      const ingestMs = performance.now() - started;
      const lag = probe.stop();
      figures.push({
        blocks: options.blocks,
        batches,
        ingestMs,
        blocksPerSecond: options.blocks / (ingestMs / 1000),
        lag,
        maxApplyMs,
      });
    }
    return figures;
  } finally {
    await Promise.all(subscribers.map((s) => s.close()));
    await Promise.all(publishers.map((p) => p.close()));
  }
}

let nextHash = 1n;
function storedEvent(
  rng: ReturnType<typeof createRng>,
  blockSize: number,
  blocks: number,
  parent: ExternalBlockHash | null,
): Extract<KvCacheEvent, { type: 'BlockStored' }> {
  const tokenIds = new Array<number>(blocks * blockSize);
  for (let i = 0; i < tokenIds.length; i++) tokenIds[i] = rng.int(151_936);
  const blockHashes = Array.from({ length: blocks }, () => BigInt.asUintN(64, nextHash++ * 0x9e3779b97f4a7c15n));
  return blockStored({ blockHashes, parentBlockHash: parent, tokenIds, blockSize });
}

async function waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
