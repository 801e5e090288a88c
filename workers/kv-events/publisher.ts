import { Publisher, Router } from 'zeromq';
import { type Clock, realClock } from '../../common/clock.ts';
import { type Logger, silentLogger } from '../../common/log.ts';
import { encodeKvEventBatch, encodeSeq, type KvCacheEvent, type KvEventShape } from '../../proto/kv-events/index.ts';
import { createReplayRing } from './replay-ring.ts';
import { type ReplayServerStats, serveReplays } from './replay-server.ts';

export interface KvEventPublisherOptions {
  /**
   * ZMQ endpoint the PUB socket binds, e.g. "tcp://*:5557" or "tcp://127.0.0.1:0" (port 0 picks
   * a free port; read it back from `endpoint`). Unlike vLLM, which connects when the endpoint
   * has no wildcard, this publisher always binds: subscribers connect to workers.
   */
  readonly endpoint: string;
  /** ROUTER endpoint for replay requests (vLLM's replay_endpoint); no replay when omitted. */
  readonly replayEndpoint?: string;
  /** Frame 1 of every message; subscribers filter on it by prefix. Default "" (vLLM's default). */
  readonly topic?: string;
  /** Batches kept for replay (vLLM's buffer_steps). Default 10000. */
  readonly bufferSteps?: number;
  /** Wire shape of the batches. Default "current" (vLLM >= 0.26). */
  readonly shape?: KvEventShape;
  /** PUB send high-water mark, messages per subscriber; past it ZMQ drops. Default 100000, as vLLM. */
  readonly hwm?: number;
  /** Source of each batch's `ts` (seconds = clock.now() / 1000). Default: the wall clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface KvEventPublisherStats {
  /** Batches published (= the next sequence number). */
  readonly published: number;
  readonly replayRequests: number;
  readonly replayedBatches: number;
  readonly invalidReplayRequests: number;
  /** Sends ZMQ refused (e.g. the socket closed with messages queued). */
  readonly sendErrors: number;
}

export interface KvEventPublisher {
  /** The PUB endpoint actually bound, with the real port ("tcp://127.0.0.1:40123"). */
  readonly endpoint: string;
  /** The ROUTER endpoint actually bound, when replay is on. */
  readonly replayEndpoint: string | undefined;
  /**
   * Publishes one engine step's events as one batch: stamps the next sequence (0 for this
   * publisher's first batch) and the clock's time, keeps it for replay, and queues the three
   * frames [topic, seq, payload]. Returns the sequence used. Never blocks: ZMQ drops for
   * subscribers past the high-water mark, and replay recovers those. vLLM publishes only steps
   * with events; this does not check, so callers should skip empty steps.
   */
  publish(events: readonly KvCacheEvent[], dataParallelRank?: number | null): bigint;
  stats(): KvEventPublisherStats;
  /** Closes both sockets; batches still queued are dropped (linger 0). Idempotent. */
  close(): Promise<void>;
}

export async function createKvEventPublisher(options: KvEventPublisherOptions): Promise<KvEventPublisher> {
  const topic = new TextEncoder().encode(options.topic ?? '');
  const shape = options.shape ?? 'current';
  const clock = options.clock ?? realClock;
  const logger = options.logger ?? silentLogger;
  const ring = createReplayRing(options.bufferSteps ?? 10_000);

  const pub = new Publisher({ linger: 0, sendHighWaterMark: options.hwm ?? 100_000 });
  let router: Router | undefined;
  try {
    await pub.bind(options.endpoint);
    if (options.replayEndpoint !== undefined) {
      // One full replay must fit the per-peer send queue, or ROUTER drops its tail.
      router = new Router({ linger: 0, sendHighWaterMark: ring.capacity + 16 });
      await router.bind(options.replayEndpoint);
    }
  } catch (error) {
    pub.close();
    router?.close();
    throw error;
  }
  const replayStats: ReplayServerStats = { requests: 0, replayedBatches: 0, invalidRequests: 0 };
  const replayLoop = router ? serveReplays(router, ring, replayStats, logger) : Promise.resolve();

  let nextSeq = 0n;
  let sendErrors = 0;
  let closed = false;
  // zeromq allows one send in flight per socket: batches wait here, in order. A head index
  // (not Array.shift, which is linear) keeps a burst of thousands of publishes linear overall.
  let queue: Uint8Array[][] = [];
  let head = 0;
  let draining = false;
  const drain = async () => {
    draining = true;
    while (head < queue.length && !closed) {
      const frames = queue[head++]!;
      if (head === queue.length) {
        queue = [];
        head = 0;
      }
      try {
        await pub.send(frames);
      } catch (error) {
        sendErrors++;
        if (!closed) logger.warn({ err: error }, 'KV-event send failed');
      }
    }
    draining = false;
  };

  return {
    endpoint: pub.lastEndpoint ?? options.endpoint,
    replayEndpoint: router ? (router.lastEndpoint ?? options.replayEndpoint) : undefined,
    publish(events, dataParallelRank = null) {
      if (closed) throw new Error('KV-event publisher is closed');
      const seq = nextSeq++;
      const payload = encodeKvEventBatch({ ts: clock.now() / 1000, events, dataParallelRank }, shape);
      ring.push(seq, payload);
      queue.push([topic, encodeSeq(seq), payload]);
      if (!draining) void drain();
      return seq;
    },
    stats: () => ({
      published: Number(nextSeq),
      replayRequests: replayStats.requests,
      replayedBatches: replayStats.replayedBatches,
      invalidReplayRequests: replayStats.invalidRequests,
      sendErrors,
    }),
    async close() {
      if (closed) return;
      closed = true;
      queue = [];
      head = 0;
      pub.close();
      router?.close();
      await replayLoop;
    },
  };
}
