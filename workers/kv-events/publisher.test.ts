import { afterEach, describe, expect, it } from 'vitest';
import { Dealer, Subscriber } from 'zeromq';
import { createVirtualClock } from '../../common/clock.ts';
import { decodeKvEventBatch, decodeSeq, END_SEQ, type KvCacheEvent } from '../../proto/kv-events/index.ts';
import { startLoopbackPublisher } from '../../test/fakes/loopback-publisher.ts';
import { createKvEventPublisher, type KvEventPublisherOptions } from './publisher.ts';

const cleared: KvCacheEvent[] = [{ type: 'AllBlocksCleared' }];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const publisher = (options: Partial<KvEventPublisherOptions> = {}) => startLoopbackPublisher(closers, options);

function dealer(endpoint: string): Dealer {
  const socket = new Dealer({ linger: 0, receiveTimeout: 5000 });
  socket.connect(endpoint);
  closers.push(() => socket.close());
  return socket;
}

/** Sends [b"", start] and reads replies until END_SEQ: [seq, payload] pairs. */
async function replay(socket: Dealer, start: bigint): Promise<{ seq: bigint; payload: Buffer }[]> {
  await socket.send([new Uint8Array(), Buffer.from(start.toString(16).padStart(16, '0'), 'hex')]);
  const out: { seq: bigint; payload: Buffer }[] = [];
  for (;;) {
    const [empty, seqFrame, payload] = await socket.receive();
    expect(empty?.length).toBe(0);
    const seq = decodeSeq(seqFrame!);
    if (!seq.ok) throw new Error(seq.error.message);
    if (seq.value === END_SEQ) {
      expect(payload?.length).toBe(0);
      return out;
    }
    out.push({ seq: seq.value, payload: payload! });
  }
}

describe('KV-event publisher', () => {
  it('binds loopback port 0 and reports the real endpoints', async () => {
    const pub = await publisher();
    expect(pub.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(pub.replayEndpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(pub.replayEndpoint).not.toBe(pub.endpoint);
  });

  it('publishes three frames: topic, 8-byte big-endian sequence from 0, msgpack batch with the clock time', async () => {
    const clock = createVirtualClock(1_700_000_000_500);
    const pub = await publisher({ clock });
    const sub = new Subscriber({ linger: 0, receiveTimeout: 5000 });
    closers.push(() => sub.close());
    sub.connect(pub.endpoint);
    sub.subscribe('kv-events');
    // A SUB sees nothing sent before its subscription reached the PUB: publish until one arrives.
    const probe = setInterval(() => pub.publish(cleared, 3), 20);
    let frames: Buffer[];
    try {
      frames = await sub.receive();
    } finally {
      clearInterval(probe);
    }
    expect(frames).toHaveLength(3);
    expect(frames[0]!.toString()).toBe('kv-events');
    expect(frames[1]!.length).toBe(8);
    const first = decodeSeq(frames[1]!);
    expect(first.ok && first.value).toBeTypeOf('bigint');
    const decoded = decodeKvEventBatch(frames[2]!);
    expect(decoded.ok && decoded.value.batch).toEqual({ ts: 1_700_000_000.5, events: cleared, dataParallelRank: 3 });
    // The next message carries the next sequence.
    const next = pub.publish(cleared);
    let seen: bigint | undefined;
    while (seen !== next) {
      const [, seqFrame] = await sub.receive();
      const seq = decodeSeq(seqFrame!);
      seen = seq.ok ? seq.value : undefined;
    }
    expect(pub.stats().published).toBe(Number(next) + 1);
  });

  it('numbers batches from 0 per publisher instance', async () => {
    const a = await publisher();
    const b = await publisher();
    expect([a.publish(cleared), a.publish(cleared), b.publish(cleared)]).toEqual([0n, 1n, 0n]);
  });

  it('replays every buffered batch with seq >= start, then END_SEQ with an empty payload', async () => {
    const pub = await publisher();
    for (let i = 0; i < 6; i++)
      pub.publish([{ type: 'BlockRemoved', blockHashes: [BigInt(i)], medium: 'GPU', groupIdx: null }]);
    const socket = dealer(pub.replayEndpoint!);
    const got = await replay(socket, 2n);
    expect(got.map((r) => r.seq)).toEqual([2n, 3n, 4n, 5n]);
    const hashes = got.map((r) => {
      const decoded = decodeKvEventBatch(r.payload);
      const event = decoded.ok ? decoded.value.batch.events[0] : undefined;
      return event?.type === 'BlockRemoved' ? event.blockHashes[0] : undefined;
    });
    expect(hashes).toEqual([2n, 3n, 4n, 5n]);
    expect(await replay(socket, 6n)).toEqual([]);
    expect(pub.stats()).toMatchObject({ replayRequests: 2, replayedBatches: 4 });
  });

  it('keeps only the last bufferSteps batches for replay', async () => {
    const pub = await publisher({ bufferSteps: 3 });
    for (let i = 0; i < 5; i++) pub.publish(cleared);
    const got = await replay(dealer(pub.replayEndpoint!), 0n);
    expect(got.map((r) => r.seq)).toEqual([2n, 3n, 4n]);
  });

  it('ignores malformed replay requests and keeps answering good ones', async () => {
    const pub = await publisher();
    pub.publish(cleared);
    const socket = dealer(pub.replayEndpoint!);
    await socket.send([Buffer.alloc(8)]); // no empty delimiter: [identity, start] at the ROUTER
    await socket.send([new Uint8Array(), Buffer.alloc(4)]); // a 4-byte start
    await socket.send([new Uint8Array(), Buffer.alloc(8), Buffer.from('x')]); // 4 frames
    const got = await replay(socket, 0n);
    expect(got.map((r) => r.seq)).toEqual([0n]);
    expect(pub.stats().invalidReplayRequests).toBe(3);
  });

  it('has no replay socket unless asked, and refuses to publish after close', async () => {
    const pub = await createKvEventPublisher({ endpoint: 'tcp://127.0.0.1:0' });
    closers.push(() => pub.close());
    expect(pub.replayEndpoint).toBeUndefined();
    await pub.close();
    await pub.close();
    expect(() => pub.publish(cleared)).toThrow(/closed/);
  });
});
