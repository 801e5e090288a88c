import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createKvEventSubscriber,
  type KvEventSubscriber,
  type KvEventSubscriberOptions,
  type KvResetReason,
} from '../orchestrator/kv-events/index.ts';
import { Publisher } from 'zeromq';
import { encodeKvEventBatch, encodeSeq, type KvCacheEvent, type KvEventBatch } from '../proto/kv-events/index.ts';
import {
  createKvEventPublisher,
  type KvEventPublisher,
  type KvEventPublisherOptions,
} from '../workers/kv-events/index.ts';
import { startLoopbackPublisher } from './fakes/loopback-publisher.ts';

/**
 * The publisher and the subscriber over real ZMQ sockets on loopback: ordering, replay of
 * dropped messages, late joiners, gaps older than the ring, and publisher restarts.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const startPublisher = (options: Partial<KvEventPublisherOptions> = {}) => startLoopbackPublisher(closers, options);

interface Received {
  readonly seq: bigint;
  readonly batch: KvEventBatch;
}

function startSubscriber(
  pub: { endpoint: string; replayEndpoint: string | undefined },
  options: Partial<KvEventSubscriberOptions> = {},
) {
  const received: Received[] = [];
  const resets: KvResetReason[] = [];
  const sub: KvEventSubscriber = createKvEventSubscriber({
    endpoint: pub.endpoint,
    ...(pub.replayEndpoint === undefined ? {} : { replayEndpoint: pub.replayEndpoint }),
    topic: 'kv-events',
    onBatch: (seq, batch) => received.push({ seq, batch }),
    onReset: (reason) => resets.push(reason),
    replayTimeoutMs: 3000,
    ...options,
  });
  closers.push(() => sub.close());
  return { sub, received, resets };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A batch whose content names its publisher and sequence, so deliveries can be checked. */
const marker = (incarnation: number, seq: bigint): KvCacheEvent[] => [
  { type: 'BlockRemoved', blockHashes: [BigInt(incarnation) * 1_000_000n + seq], medium: 'GPU', groupIdx: null },
];
const markerOf = (batch: KvEventBatch) => {
  const event = batch.events[0];
  return event?.type === 'BlockRemoved' ? event.blockHashes[0] : undefined;
};

/** Publishes a marker batch every few ms until `done()`; returns the last sequence published. */
async function publishUntil(pub: KvEventPublisher, incarnation: number, done: () => boolean): Promise<bigint> {
  let last = -1n;
  await waitFor('delivery', () => {
    if (done()) return true;
    last = pub.publish(marker(incarnation, last + 1n));
    return false;
  });
  return last;
}

const seqsOf = (received: readonly Received[]) => received.map((r) => Number(r.seq));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('KV events over real ZMQ sockets', () => {
  it('delivers a live stream in order, exactly once, without replays once subscribed', async () => {
    const pub = await startPublisher();
    const { sub, received, resets } = startSubscriber(pub);
    let last = await publishUntil(pub, 1, () => received.length > 0);
    await waitFor('warm-up', () => sub.stats().lastSeq === last);
    const replaysBefore = sub.stats().replays;
    for (let i = 0; i < 200; i++) last = pub.publish(marker(1, last + 1n));
    await waitFor('all 200', () => sub.stats().lastSeq === last);
    expect(seqsOf(received)).toEqual(range(0, Number(last)));
    expect(received.map((r) => markerOf(r.batch))).toEqual(received.map((r) => 1_000_000n + r.seq));
    expect(sub.stats()).toMatchObject({ replays: replaysBefore, gaps: 0, resets: 0, decodeErrors: 0, connected: true });
    expect(resets).toEqual([]);
  });

  it('recovers messages dropped on receipt through replay, delivering live ones queued meanwhile after it, without duplicates', async () => {
    const pub = await startPublisher();
    let dropping = false;
    const dropped = new Set<bigint>();
    const { sub, received, resets } = startSubscriber(pub, {
      dropOnReceipt: (seq) => {
        const drop = dropping && (seq % 7n === 3n || seq % 11n === 0n);
        if (drop) dropped.add(seq);
        return drop;
      },
    });
    let last = await publishUntil(pub, 1, () => received.length > 0);
    dropping = true;
    for (let i = 0; i < 400; i++) {
      const next = pub.publish(marker(1, last + 1n));
      last = next;
      if (i % 50 === 0) await sleep(1); // let replays and live traffic interleave
    }
    while (last % 7n === 3n || last % 11n === 0n) last = pub.publish(marker(1, last + 1n)); // end on a kept one
    await waitFor('every batch', () => sub.stats().lastSeq === last);
    expect(dropped.size).toBeGreaterThan(40);
    expect(seqsOf(received)).toEqual(range(0, Number(last)));
    expect(received.map((r) => markerOf(r.batch))).toEqual(received.map((r) => 1_000_000n + r.seq));
    const stats = sub.stats();
    expect(stats.gaps).toBeGreaterThan(0);
    // One replay brings the ring's tail; later gaps inside it need no further request.
    expect(stats.replays).toBeGreaterThanOrEqual(1);
    expect(stats.replays).toBeLessThanOrEqual(stats.gaps);
    expect(stats.replayedBatches).toBeGreaterThanOrEqual(dropped.size);
    expect(stats.droppedByFaultInjection).toBe(dropped.size);
    expect(resets).toEqual([]);
  });

  it('lets a late joiner recover the history it missed from the replay ring', async () => {
    const pub = await startPublisher();
    for (let i = 0n; i < 25n; i++) pub.publish(marker(1, i));
    const { sub, received, resets } = startSubscriber(pub);
    const last = await publishUntil(pub, 1, () => received.length > 0);
    await waitFor('history', () => sub.stats().lastSeq === last);
    expect(seqsOf(received)).toEqual(range(0, Number(last)));
    expect(sub.stats().lateJoins).toBe(1);
    expect(resets).toEqual([]);
  });

  it('resets the worker when a gap is older than the replay ring, then follows the live stream', async () => {
    const pub = await startPublisher({ bufferSteps: 5 });
    let dropBelow = -1n;
    const { sub, received, resets } = startSubscriber(pub, { dropOnReceipt: (seq) => seq < dropBelow });
    let last = await publishUntil(pub, 1, () => received.length > 0);
    await waitFor('warm-up', () => sub.stats().lastSeq === last);
    dropBelow = last + 21n; // the next 20 are lost; the ring keeps 5
    for (let i = 0; i < 25; i++) last = pub.publish(marker(1, last + 1n));
    await waitFor('the live stream', () => sub.stats().lastSeq === last);
    expect(resets).toEqual(['unrecoverable-gap']);
    expect(sub.stats()).toMatchObject({ unrecoverableGaps: 1, restarts: 0 });
    // After the reset: one contiguous run to the end, starting no earlier than the ring reached
    // (the last 5 batches before the first live one past the loss).
    const afterLoss = seqsOf(received).filter((s) => s > Number(dropBelow) - 21);
    expect(afterLoss.at(-1)).toBe(Number(last));
    expect(afterLoss).toEqual(range(afterLoss[0]!, Number(last)));
    expect(afterLoss[0]!).toBeGreaterThan(Number(dropBelow) - 6);
  });

  it('resets without replay configured on any gap, and keeps delivering', async () => {
    const pub = await startPublisher();
    let dropNext = false;
    const { sub, received, resets } = startSubscriber(
      { endpoint: pub.endpoint, replayEndpoint: undefined },
      { dropOnReceipt: () => dropNext && !(dropNext = false) },
    );
    let last = await publishUntil(pub, 1, () => received.length > 0);
    await waitFor('warm-up', () => sub.stats().lastSeq === last);
    const resetsBefore = resets.length; // a late join without replay is a reset too
    dropNext = true;
    for (let i = 0; i < 3; i++) last = pub.publish(marker(1, last + 1n));
    await waitFor('the live stream', () => sub.stats().lastSeq === last);
    expect(resets.slice(resetsBefore)).toEqual(['unrecoverable-gap']);
    expect(sub.stats().replays).toBe(0);
  });

  it('treats a restarted publisher (new instance, sequence from 0) as a restart and follows the new sequence', async () => {
    const first = await startPublisher();
    const { sub, received, resets } = startSubscriber(first);
    let last = await publishUntil(first, 1, () => received.length > 0);
    for (let i = 0; i < 10; i++) last = first.publish(marker(1, last + 1n));
    await waitFor('first incarnation', () => sub.stats().lastSeq === last);
    const firstCount = received.length;
    await first.close();
    // The same endpoints, as a restarted engine would bind them (the port frees asynchronously).
    let second: KvEventPublisher | undefined;
    const until = Date.now() + 5000;
    while (!second) {
      try {
        second = await createKvEventPublisher({
          endpoint: first.endpoint,
          replayEndpoint: first.replayEndpoint!,
          topic: 'kv-events',
        });
      } catch (error) {
        if (Date.now() > until) throw error;
        await sleep(50);
      }
    }
    const restarted = second;
    closers.push(() => restarted.close());
    const lastOfSecond = await publishUntil(restarted, 2, () => resets.length > 0 && received.length > firstCount);
    await waitFor('second incarnation', () => sub.stats().lastSeq === lastOfSecond);
    expect(resets).toEqual(['restart']);
    const after = received.slice(firstCount);
    expect(seqsOf(after)).toEqual(range(0, Number(lastOfSecond)));
    expect(after.map((r) => markerOf(r.batch))).toEqual(after.map((r) => 2_000_000n + r.seq));
  });

  it('skips undecodable messages and unknown events, survives a throwing callback, and keeps going', async () => {
    const raw = new Publisher({ linger: 0 });
    await raw.bind('tcp://127.0.0.1:0');
    closers.push(async () => raw.close());
    const endpoint = raw.lastEndpoint!;
    const good = (n: bigint) => encodeKvEventBatch({ ts: 1, events: marker(1, n), dataParallelRank: 0 }, 'current');
    const received: bigint[] = [];
    const sub = createKvEventSubscriber({
      endpoint,
      topic: 'kv-events',
      onBatch: (seq) => {
        received.push(seq);
        if (received.length === 1) throw new Error('index bug'); // the consumer fails once
      },
      onReset: () => undefined,
    });
    closers.push(() => sub.close());
    let seq = 0n;
    await waitFor('a first delivery', () => {
      if (received.length > 0) return true;
      void raw.send(['kv-events', encodeSeq(seq), good(seq)]);
      seq++;
      return false;
    });
    const before = sub.stats();
    const unknown = Buffer.concat([
      Buffer.from(good(0n)).subarray(0, 10),
      Buffer.from([0x92, 0x91, 0xab, ...Buffer.from('BlockPinned')]),
      Buffer.from(good(0n)).subarray(11),
    ]);
    await raw.send(['kv-events', encodeSeq(seq), new Uint8Array([0xc1, 0x00])]); // msgpack "never used" byte
    await raw.send(['kv-events', new Uint8Array([1, 2, 3]), good(seq + 1n)]); // a 3-byte sequence
    await raw.send(['kv-events', encodeSeq(seq + 1n)]); // two frames
    await raw.send(['kv-events', encodeSeq(seq + 1n), unknown]);
    await raw.send(['kv-events', encodeSeq(seq + 2n), good(seq + 2n)]);
    await waitFor('the last good batch', () => sub.stats().lastSeq === seq + 2n);
    const after = sub.stats();
    expect(after.decodeErrors - before.decodeErrors).toBe(3);
    expect(after.unknownEvents - before.unknownEvents).toBe(1);
    expect(after.callbackErrors).toBe(1);
    expect(received.slice(-2)).toEqual([seq + 1n, seq + 2n]);
  });

  it('holds at most maxQueuedMessages in memory while a replay blocks it, then follows the live stream', async () => {
    const pub = await startPublisher();
    const silent = await startPublisher();
    const { sub, received } = startSubscriber(
      { endpoint: pub.endpoint, replayEndpoint: silent.endpoint }, // a PUB: the replay is never answered
      { replayTimeoutMs: 2000, maxQueuedMessages: 50, dropOnReceipt: (seq) => seq === 5n },
    );
    let last = -1n;
    await waitFor('a replay to start', () => {
      last = pub.publish(marker(1, last + 1n));
      return sub.stats().replays > 0;
    });
    let most = 0;
    for (let i = 0; i < 400; i++) {
      last = pub.publish(marker(1, last + 1n));
      if (i % 20 === 0) await sleep(5);
      most = Math.max(most, sub.stats().queued);
    }
    await waitFor('the backlog to build', () => {
      most = Math.max(most, sub.stats().queued);
      return sub.stats().backpressured > 0;
    });
    expect(most).toBeLessThanOrEqual(50);
    // The replay times out (a reset), and then the live stream is followed to its end.
    await waitFor('the live stream', () => (sub.stats().lastSeq ?? -1n) >= last - 1n);
    for (let i = 0; i < 5; i++) last = pub.publish(marker(1, last + 1n));
    await waitFor('the last message', () => sub.stats().lastSeq === last);
    expect(sub.stats().queued).toBe(0);
    expect(received.length).toBeGreaterThan(0);
  });

  it('closes cleanly while a replay is outstanding, and calls nothing afterwards', async () => {
    // A replay endpoint nobody answers on: the replay would wait for its deadline.
    const pub = await startPublisher();
    const silent = await startPublisher();
    const calls: string[] = [];
    const sub = createKvEventSubscriber({
      endpoint: pub.endpoint,
      replayEndpoint: silent.endpoint, // a PUB, not a ROUTER: the request is never answered
      topic: 'kv-events',
      replayTimeoutMs: 60_000,
      dropOnReceipt: (seq) => seq === 5n, // a gap for certain, even if the first message is seq 0
      onBatch: () => calls.push('batch'),
      onReset: () => calls.push('reset'),
    });
    closers.push(() => sub.close());
    for (let i = 0n; i < 3n; i++) pub.publish(marker(1, i));
    await waitFor('a replay to start', () => {
      pub.publish(marker(1, 0n));
      return sub.stats().replays > 0;
    });
    const started = Date.now();
    await sub.close();
    expect(Date.now() - started).toBeLessThan(30_000); // far below the 60 s replay deadline
    const before = calls.length;
    await sleep(50);
    expect(calls.length).toBe(before);
  });
});
