import { silentLogger, type Logger } from '../../common/log.ts';
import { createKvEventSubscriber, type KvEventSubscriber } from '../../orchestrator/kv-events/index.ts';
import { createSlicer } from '../../orchestrator/kv-events/slicer.ts';
import { createPreciseIndex } from '../../orchestrator/kv-index/precise-index.ts';
import { PerformanceObserver } from 'node:perf_hooks';
import { createChildPublishers, createLocalPublishers } from './kv-event-storm-publishers.ts';
import { startLoopLagProbe, type LoopGap, type LoopLag } from './loop-lag.ts';

/**
 * A KV-event storm against the orchestrator's ingest path: `workers` publishers (the workers'
 * real ZMQ publisher, vLLM's wire format, on loopback; in a child process unless
 * `publishersInProcess`) and, for each, the orchestrator's real subscriber feeding one precise
 * index in this process. Each burst is built in the publishers' process first; the clock starts
 * when it is published and stops when its last block is indexed. The figures are how long this
 * process's event loop was held meanwhile (loop-lag.ts: the largest gap between ticks of a 1 ms
 * interval, and the main thread's own run time in the gaps, which the load average does not
 * inflate), with the longest gaps explained by the index batches and GC pauses inside them.
 * Bursts run back to back on the same index: the first is the cold start.
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
  /**
   * Run the publishers in this process (as before: their sending then counts in the figures)
   * instead of a child process, as workers are.
   */
  readonly publishersInProcess?: boolean;
  /** The publishers' process priority (nice, 0-19; default 0; not with publishersInProcess). */
  readonly publishersNice?: number;
  /**
   * Before this burst (0-based), reset worker 0 as a restart would (`clearWorker`): its blocks
   * are then released while the burst is ingested.
   */
  readonly resetBeforeBurst?: number;
  /** Slice length for every subscriber (a slicer of their own); default the process's kvEventSlicer. */
  readonly sliceMs?: number;
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
  /** Longest garbage-collection pause on the main thread (perf_hooks 'gc' entries), ms. */
  readonly maxGcMs: number;
  /** The longest gaps between ticks, each with what ran inside it. */
  readonly worst: readonly ExplainedGap[];
  /** With `resetBeforeBurst`: worker 0's blocks and how long its `clearWorker` call took, wall ms. */
  readonly reset?: { readonly blocks: number; readonly ms: number };
}

/** A gap between ticks of the loop-lag probe, with the index work and GC pauses inside it. */
export interface ExplainedGap extends LoopGap {
  /** applyBatch calls that ended inside the gap, and their total and longest wall time, ms. */
  readonly batches: number;
  readonly applyMs: number;
  readonly maxApplyMs: number;
  /** GC pauses that ended inside the gap: total and longest, ms. */
  readonly gcMs: number;
  readonly maxGcMs: number;
}

/** [end ms, duration ms] pairs, appended in time order. */
type Spans = number[];

function explain(gap: LoopGap, applies: Spans, gcs: Spans): ExplainedGap {
  const inside = (spans: Spans) => {
    let count = 0;
    let total = 0;
    let max = 0;
    for (let i = 0; i < spans.length; i += 2) {
      const end = spans[i]!;
      if (end <= gap.endMs - gap.gapMs || end > gap.endMs) continue;
      count++;
      total += spans[i + 1]!;
      max = Math.max(max, spans[i + 1]!);
    }
    return { count, total, max };
  };
  const a = inside(applies);
  const g = inside(gcs);
  return { ...gap, batches: a.count, applyMs: a.total, maxApplyMs: a.max, gcMs: g.total, maxGcMs: g.max };
}

export async function runKvEventStorm(options: StormOptions): Promise<BurstFigures[]> {
  const logger = options.logger ?? silentLogger;
  const index = createPreciseIndex({ hashSeed: 0, defaultBlockSize: options.blockSize, logger });
  const spec = {
    workers: options.workers,
    blockSize: options.blockSize,
    seed: options.seed,
    ...(options.publishersNice ? { nice: options.publishersNice } : {}),
  };
  const publishers = options.publishersInProcess
    ? await createLocalPublishers(spec)
    : await createChildPublishers(spec);
  const subscribers: KvEventSubscriber[] = [];
  const slicer = options.unsliced
    ? { pace: () => undefined, yields: 0 }
    : options.sliceMs === undefined
      ? undefined
      : createSlicer({ sliceMs: options.sliceMs });
  let indexed = 0;
  let maxApplyMs = 0;
  let applies: Spans = [];
  let gcs: Spans = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push(entry.startTime + entry.duration, entry.duration);
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  try {
    publishers.endpoints.forEach((endpoint, w) => {
      const tenant = `w${w}`;
      index.registerWorker(tenant, { blockSize: options.blockSize });
      subscribers.push(
        createKvEventSubscriber({
          endpoint,
          receiveHighWaterMark: 1_000_000,
          ...(slicer ? { slicer } : {}),
          logger,
          onBatch: (_seq, batch) => {
            const t = performance.now();
            indexed += index.applyBatch(tenant, batch).stored;
            const end = performance.now();
            maxApplyMs = Math.max(maxApplyMs, end - t);
            applies.push(end, end - t);
          },
          onReset: () => index.clearWorker(tenant),
        }),
      );
    });
    await waitFor(() => subscribers.every((s) => s.stats().connected), 5000, 'subscribers to connect');
    // ZMQ drops what a SUB receives before its subscription is through: a warm-up batch each.
    for (let tries = 0; tries < 100; tries++) {
      const cold = subscribers.flatMap((s, w) => (s.stats().batchesDelivered === 0 ? [w] : []));
      if (cold.length === 0) break;
      await publishers.warm(cold);
      await new Promise((r) => setTimeout(r, 20));
    }

    const figures: BurstFigures[] = [];
    for (let b = 0; b < options.bursts; b++) {
      const target = indexed + options.blocks;
      const batches = await publishers.prepare(options.blocks, options.blocksPerBatch);
      let reset: BurstFigures['reset'];
      if (options.resetBeforeBurst === b) {
        const blocks = index.indexedBlocks('w0');
        const t = performance.now();
        index.clearWorker('w0', 'storm reset');
        reset = { blocks, ms: performance.now() - t };
      }
      maxApplyMs = 0;
      applies = [];
      gcs = [];
      // In this process, publishing (encoding every batch) is one synchronous loop: it runs
      // before the clock, as in the harness before the publishers had their own process.
      if (options.publishersInProcess) await publishers.publish();
      const probe = startLoopLagProbe();
      const started = performance.now();
      if (!options.publishersInProcess) await publishers.publish();
      await waitFor(() => indexed >= target, 120_000, `${options.blocks} blocks to be indexed`);
      const ingestMs = performance.now() - started;
      const lag = probe.stop();
      // GC entries are delivered after the fact: let the observer catch up.
      await new Promise((r) => setTimeout(r, 20));
      figures.push({
        blocks: options.blocks,
        batches,
        ingestMs,
        blocksPerSecond: options.blocks / (ingestMs / 1000),
        lag,
        maxApplyMs,
        maxGcMs: gcs.reduce((max, x, i) => (i % 2 === 1 ? Math.max(max, x) : max), 0),
        worst: lag.worst.map((gap) => explain(gap, applies, gcs)),
        ...(reset ? { reset } : {}),
      });
    }
    return figures;
  } finally {
    gcObserver.disconnect();
    await Promise.all(subscribers.map((s) => s.close()));
    await publishers.close();
  }
}

async function waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
