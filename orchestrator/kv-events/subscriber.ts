import { Subscriber } from 'zeromq';
import { type Clock, realClock } from '../../common/clock.ts';
import { type Logger, silentLogger } from '../../common/log.ts';
import { decodeKvEventBatch, decodeSeq, type KvEventBatch } from '../../proto/kv-events/index.ts';
import { requestReplay } from './replay-client.ts';
import { createKvEventSequencer, type KvEventSequencerStats, type KvResetReason } from './sequencer.ts';
import { kvEventSlicer, type Slicer } from './slicer.ts';

export interface KvEventSubscriberOptions {
  /** The worker's PUB endpoint to connect to (one subscriber per worker and DP rank). */
  readonly endpoint: string;
  /** The worker's replay ROUTER; without it every gap resets the worker's index entries. */
  readonly replayEndpoint?: string;
  /** ZMQ prefix subscription; "" (default) takes every topic. */
  readonly topic?: string;
  /** Each batch once, in sequence order. Keep it synchronous and quick; throwing is logged. */
  readonly onBatch: (seq: bigint, batch: KvEventBatch) => void;
  /**
   * The worker's cached blocks are no longer known: drop everything indexed for it, then keep
   * applying batches from onBatch. "restart": the engine restarted (sequence went backwards or
   * the replay ring disagrees with what was delivered); "unrecoverable-gap": events were lost
   * and replay could not return them.
   */
  readonly onReset: (reason: KvResetReason) => void;
  readonly logger?: Logger;
  /** Deadline for one replay, milliseconds. Default 5000 (vLLM router's choice). */
  readonly replayTimeoutMs?: number;
  /** SUB receive high-water mark, messages. Default 100000 (the publisher's default hwm). */
  readonly receiveHighWaterMark?: number;
  /**
   * Messages received but not yet handled (a replay running, a burst being sliced) that this
   * subscriber holds in memory, at most. Beyond it the reader stops taking messages from the
   * socket (backpressure) until the line is half as long: the rest waits in ZMQ's receive
   * buffer, bounded by `receiveHighWaterMark`; what ZMQ then drops is a sequence gap, recovered
   * by replay or a reset like any other. Default 4096 (a 64-block batch each: 262,144 blocks).
   */
  readonly maxQueuedMessages?: number;
  readonly clock?: Clock;
  /**
   * Paces batch handling so a burst never holds the event loop for long (see slicer.ts).
   * Default: the process's shared KV-event slicer (10 ms slices across every subscriber).
   */
  readonly slicer?: Slicer;
  /**
   * FAULT INJECTION, for tests only: live messages whose sequence this returns true for are
   * discarded on receipt, as if lost on the network (replays are not filtered).
   */
  readonly dropOnReceipt?: (seq: bigint) => boolean;
}

export interface KvEventSubscriberStats extends KvEventSequencerStats {
  /** Batches decoded and handed to onBatch, live and replayed. */
  batchesDelivered: number;
  /** Resets of either reason (restarts + unrecoverableGaps). */
  resets: number;
  /** Messages with bad framing or payloads that did not decode (skipped; seq still advances). */
  decodeErrors: number;
  /** Events of unknown kinds skipped inside otherwise good batches. */
  unknownEvents: number;
  /** onBatch / onReset calls that threw. */
  callbackErrors: number;
  /** Live messages discarded by dropOnReceipt (fault injection). */
  droppedByFaultInjection: number;
  /** Whether the SUB socket currently has a connection to the publisher. */
  connected: boolean;
  /** Messages received and not yet handled now (at most maxQueuedMessages). */
  queued: number;
  /** Times the reader stopped taking messages because `maxQueuedMessages` were waiting. */
  backpressured: number;
}

export interface KvEventSubscriber {
  readonly endpoint: string;
  /** Counters for metrics and /debug/workers. `lastSeq` is a bigint (null before the first). */
  stats(): KvEventSubscriberStats;
  /** Closes the sockets, abandons a replay in progress; no callback runs afterwards. Idempotent. */
  close(): Promise<void>;
}

interface Message {
  readonly seq: bigint;
  readonly payload: Uint8Array;
}

/**
 * Follows one worker's KV events: SUB connect, tolerant decoding, and the sequencer's
 * in-order, exactly-once delivery with replay over a DEALER. Live messages that arrive during a
 * replay wait in a queue here and are handled after it.
 */
export function createKvEventSubscriber(options: KvEventSubscriberOptions): KvEventSubscriber {
  const logger = (options.logger ?? silentLogger).child({ kvEvents: options.endpoint });
  const clock = options.clock ?? realClock;
  const replayTimeoutMs = options.replayTimeoutMs ?? 5000;
  const closing = new AbortController();
  const counters = {
    batchesDelivered: 0,
    decodeErrors: 0,
    unknownEvents: 0,
    callbackErrors: 0,
    droppedByFaultInjection: 0,
    connected: false,
  };

  const sequencer = createKvEventSequencer({
    ...(options.replayEndpoint === undefined
      ? {}
      : {
          replay: (start: bigint) =>
            requestReplay({
              endpoint: options.replayEndpoint!,
              start,
              timeoutMs: replayTimeoutMs,
              clock,
              signal: closing.signal,
            }),
        }),
    deliver(seq, payload, via) {
      if (closing.signal.aborted) return;
      const decoded = decodeKvEventBatch(payload);
      if (!decoded.ok) {
        counters.decodeErrors++;
        logger.warn(
          { seq: seq.toString(), path: decoded.error.path, error: decoded.error.message },
          'undecodable KV-event batch skipped',
        );
        return;
      }
      counters.unknownEvents += decoded.value.unknownEventTags.length;
      counters.batchesDelivered++;
      guard(() => options.onBatch(seq, decoded.value.batch), via === 'live' ? 'onBatch' : 'onBatch (replayed)');
    },
    reset(reason) {
      if (closing.signal.aborted) return;
      logger.warn({ reason }, 'KV-event stream reset: dropping what is known of this worker');
      guard(() => options.onReset(reason), 'onReset');
    },
  });

  function guard(call: () => void, what: string) {
    try {
      call();
    } catch (error) {
      counters.callbackErrors++;
      logger.error({ err: error }, `${what} threw`);
    }
  }

  const sub = new Subscriber({ linger: 0, receiveHighWaterMark: options.receiveHighWaterMark ?? 100_000 });
  sub.events.on('connect', () => {
    counters.connected = true;
  });
  sub.events.on('disconnect', () => {
    counters.connected = false;
    sequencer.connectionLost();
  });
  sub.connect(options.endpoint);
  sub.subscribe(options.topic ?? '');

  // Messages received but not yet handled (they pile up here while a replay runs).
  let queue: Message[] = [];
  let head = 0;
  let processing = false;
  const maxQueued = Math.max(1, options.maxQueuedMessages ?? 4096);
  let backpressured = 0;
  /** Resolves the reader's wait for room (set while it waits). */
  let roomFreed: (() => void) | undefined;
  const waiting = () => queue.length - head;
  const slicer = options.slicer ?? kvEventSlicer;
  const drain = async () => {
    processing = true;
    while (head < queue.length && !closing.signal.aborted) {
      // A burst is handled a slice at a time: other requests' tokens go out in between.
      const turn = slicer.pace();
      if (turn) {
        await turn;
        if (closing.signal.aborted) break;
      }
      const message = queue[head++]!;
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      if (roomFreed && waiting() <= maxQueued / 2) {
        roomFreed();
        roomFreed = undefined;
      }
      try {
        await sequencer.receive(message.seq, message.payload);
      } catch (error) {
        // Callbacks are guarded and replays do not throw: this is a bug, but must not stall us.
        logger.error({ err: error, seq: message.seq.toString() }, 'KV-event sequencing failed');
      }
    }
    processing = false;
    roomFreed?.();
    roomFreed = undefined;
  };

  const reader = (async () => {
    try {
      for await (const frames of sub) {
        // ZMQ hands over a backlog without returning to the event loop: read it a slice at a time too.
        const turn = slicer.pace();
        if (turn) await turn;
        const seq = frames.length === 3 ? decodeSeq(frames[1]!) : undefined;
        if (!seq?.ok) {
          counters.decodeErrors++;
          logger.warn({ frames: frames.length }, 'malformed KV-event message skipped');
          continue;
        }
        if (options.dropOnReceipt?.(seq.value)) {
          counters.droppedByFaultInjection++;
          continue;
        }
        queue.push({ seq: seq.value, payload: frames[2]! });
        if (!processing) void drain();
        if (waiting() >= maxQueued && !closing.signal.aborted) {
          backpressured++;
          await new Promise<void>((resolve) => {
            roomFreed = resolve;
          });
        }
      }
    } catch (error) {
      if (!closing.signal.aborted) logger.error({ err: error }, 'KV-event socket failed');
    }
  })();

  return {
    endpoint: options.endpoint,
    stats() {
      const s = sequencer.stats();
      return { ...s, ...counters, resets: s.restarts + s.unrecoverableGaps, queued: waiting(), backpressured };
    },
    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      roomFreed?.();
      sub.close();
      await reader;
    },
  };
}
