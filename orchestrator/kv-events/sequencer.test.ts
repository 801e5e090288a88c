import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { createKvEventSequencer, type KvResetReason, type ReplayFn } from './sequencer.ts';

/** One published KV-event batch: its sequence number and payload. */
type Batch = { seq: bigint; payload: Uint8Array };

/** An in-memory publisher: per-incarnation sequence from 0 and a bounded replay ring. */
function fakePublisher(capacity = 1000) {
  let incarnation = 0;
  let next = 0n;
  let ring: Batch[] = [];
  const payloadOf = (inc: number, seq: bigint) => new TextEncoder().encode(`${inc}:${seq}`);
  return {
    publish(): Batch {
      const entry = { seq: next++, payload: payloadOf(incarnation, next - 1n) };
      ring.push(entry);
      if (ring.length > capacity) ring.shift();
      return entry;
    },
    restart() {
      incarnation++;
      next = 0n;
      ring = [];
    },
    replay: (async (start) => ({ entries: ring.filter((e) => e.seq >= start), complete: true })) satisfies ReplayFn,
    incarnation: () => incarnation,
    payloadOf,
  };
}

function harness(replay: ReplayFn | undefined) {
  const delivered: { seq: bigint; text: string; via: string }[] = [];
  const resets: KvResetReason[] = [];
  const sequencer = createKvEventSequencer({
    ...(replay ? { replay } : {}),
    deliver: (seq, payload, via) => delivered.push({ seq, text: new TextDecoder().decode(payload), via }),
    reset: (reason) => resets.push(reason),
  });
  return {
    sequencer,
    delivered,
    resets,
    seqs: () => delivered.map((d) => Number(d.seq)),
    /** The sequencer receives one published batch. */
    receive: (batch: Batch) => sequencer.receive(batch.seq, batch.payload),
  };
}

/** Publishes `count` batches, the harness receiving each as it is published (nothing lost). */
async function publishReceived(pub: ReturnType<typeof fakePublisher>, h: ReturnType<typeof harness>, count: number) {
  for (let i = 0; i < count; i++) await h.receive(pub.publish());
}

describe('KV-event sequencer', () => {
  it('delivers an in-order stream at once, without replays', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    await publishReceived(pub, h, 5);
    expect(h.seqs()).toEqual([0, 1, 2, 3, 4]);
    expect(h.sequencer.stats()).toMatchObject({ replays: 0, gaps: 0, lastSeq: 4n });
  });

  it('fills a gap from the replay ring, in order and exactly once', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    for (let i = 0; i < 8; i++) {
      const { seq, payload } = pub.publish();
      if (i === 3 || i === 4) continue; // lost on the way
      await h.sequencer.receive(seq, payload);
    }
    expect(h.seqs()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(h.delivered.filter((d) => d.via === 'replay').map((d) => Number(d.seq))).toEqual([3, 4]);
    expect(h.sequencer.stats()).toMatchObject({ gaps: 1, replays: 1, replayedBatches: 2 });
    expect(h.resets).toEqual([]);
  });

  it('replays history from 0 for a late joiner', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    for (let i = 0; i < 5; i++) pub.publish();
    await h.receive(pub.publish());
    expect(h.seqs()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(h.sequencer.stats()).toMatchObject({ lateJoins: 1, replays: 1 });
    expect(h.resets).toEqual([]);
  });

  it('resets on a gap older than the ring, delivers what the ring still holds, and continues live', async () => {
    const pub = fakePublisher(3);
    const h = harness(pub.replay);
    await h.receive(pub.publish());
    for (let i = 1; i < 7; i++) pub.publish(); // 1..6 lost; the ring keeps 4..6
    await h.receive(pub.publish()); // 7; ring now 5..7
    expect(h.resets).toEqual(['unrecoverable-gap']);
    expect(h.seqs()).toEqual([0, 5, 6, 7]);
    await h.receive(pub.publish());
    expect(h.seqs().at(-1)).toBe(8);
    expect(h.resets).toHaveLength(1);
  });

  it('resets on any gap when there is no replay endpoint, including a late join', async () => {
    const pub = fakePublisher();
    const h = harness(undefined);
    pub.publish();
    await h.receive(pub.publish());
    pub.publish();
    await h.receive(pub.publish());
    expect(h.resets).toEqual(['unrecoverable-gap', 'unrecoverable-gap']);
    expect(h.seqs()).toEqual([1, 3]);
  });

  it('treats a failed or cut-short replay as unrecoverable but keeps the run it did get', async () => {
    const cut: ReplayFn = async () => ({ entries: [{ seq: 4n, payload: new Uint8Array([4]) }], complete: false });
    const h = harness(cut);
    await h.sequencer.receive(0n, new Uint8Array([0]));
    await h.sequencer.receive(5n, new Uint8Array([5]));
    expect(h.resets).toEqual(['unrecoverable-gap']);
    expect(h.seqs()).toEqual([0, 4, 5]);

    const throwing: ReplayFn = () => Promise.reject(new Error('socket gone'));
    const t = harness(throwing);
    await t.sequencer.receive(2n, new Uint8Array([2]));
    expect(t.resets).toEqual(['unrecoverable-gap']);
    expect(t.seqs()).toEqual([2]);
  });

  it('resets with "restart" when the live sequence goes backwards, then follows the new one', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    await publishReceived(pub, h, 4);
    pub.restart();
    await publishReceived(pub, h, 2);
    expect(h.resets).toEqual(['restart']);
    expect(h.delivered.slice(4).map((d) => d.text)).toEqual(['1:0', '1:1']);
    expect(h.sequencer.stats().restarts).toBe(1);
  });

  it('detects a restarted publisher whose sequence already passed ours, by the anchor batch', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    await publishReceived(pub, h, 3);
    pub.restart();
    for (let i = 0; i < 6; i++) pub.publish(); // missed while reconnecting
    await h.receive(pub.publish()); // seq 6 > 3: looks like a gap
    expect(h.resets).toEqual(['restart']);
    expect(h.delivered.slice(3).map((d) => d.text)).toEqual(['1:0', '1:1', '1:2', '1:3', '1:4', '1:5', '1:6']);
  });

  it('verifies the next message after a lost connection, catching a restart whose sequence continues ours', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    await publishReceived(pub, h, 3);
    h.sequencer.connectionLost();
    pub.restart();
    for (let i = 0; i < 3; i++) pub.publish();
    await h.receive(pub.publish()); // seq 3: exactly what was expected
    expect(h.resets).toEqual(['restart']);
    expect(h.delivered.slice(3).map((d) => d.text)).toEqual(['1:0', '1:1', '1:2', '1:3']);
  });

  it('after a lost connection to the same publisher, verifies and carries on without a reset', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    await publishReceived(pub, h, 3);
    h.sequencer.connectionLost();
    await h.receive(pub.publish());
    expect(h.resets).toEqual([]);
    expect(h.seqs()).toEqual([0, 1, 2, 3]);
    expect(h.sequencer.stats().replays).toBe(1);
  });

  it('fills later gaps from the ring tail an earlier replay returned, without asking again', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    const published = Array.from({ length: 21 }, () => pub.publish());
    for (const i of [0, 5, 8, 12, 20]) await h.receive(published[i]!); // a lagging reader that lost most
    expect(h.seqs()).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(h.sequencer.stats()).toMatchObject({ gaps: 4, replays: 1, replayedBatches: 16 });
  });

  it('does not trust that ring tail after a lost connection: a restarted publisher is still caught', async () => {
    const pub = fakePublisher();
    const h = harness(pub.replay);
    const published = Array.from({ length: 11 }, () => pub.publish());
    await h.receive(published[0]!);
    await h.receive(published[3]!); // replay; 4..10 kept
    h.sequencer.connectionLost();
    pub.restart();
    const second = Array.from({ length: 7 }, () => pub.publish());
    await h.receive(second[6]!); // 6: a gap the old tail "covers"
    expect(h.resets).toEqual(['restart']);
    expect(h.delivered.slice(4).map((d) => d.text)).toEqual(['1:0', '1:1', '1:2', '1:3', '1:4', '1:5', '1:6']);
  });

  it('on seeded random drops, restarts and ring sizes, delivers only the current incarnation, in order, and all of it unless it reset', async () => {
    let cleanRuns = 0;
    for (let trial = 0; trial < 40; trial++) {
      const rng = createRng(`sequencer/${trial}`);
      const pub = fakePublisher(1 + rng.int(30));
      const withReplay = rng.next() < 0.85;
      const h = harness(withReplay ? pub.replay : undefined);
      const dropRate = rng.pick([0, 0.05, 0.3, 0.7]);
      let sinceReset: number[] = [];
      let runIncarnation = -1; // the incarnation every delivery since the last reset came from
      let cleanSinceRestart = true;
      let lastReceived = -1;
      for (let step = 0; step < 300; step++) {
        if (rng.next() < 0.01) {
          pub.restart();
          h.sequencer.connectionLost();
        }
        const { seq, payload } = pub.publish();
        if (rng.next() < dropRate) continue;
        const before = h.delivered.length;
        const resetsBefore = h.resets.length;
        await h.sequencer.receive(seq, payload);
        lastReceived = Number(seq);
        for (const reason of h.resets.slice(resetsBefore)) {
          if (reason === 'restart') cleanSinceRestart = true;
          else cleanSinceRestart = false;
          sinceReset = [];
        }
        for (const d of h.delivered.slice(before)) {
          // Never a batch of an earlier incarnation, never mixed with one without a reset between,
          // never out of order.
          expect(d.text).toBe(`${pub.incarnation()}:${d.seq}`);
          if (sinceReset.length === 0) runIncarnation = pub.incarnation();
          expect(runIncarnation).toBe(pub.incarnation());
          if (sinceReset.length > 0) expect(Number(d.seq)).toBe(sinceReset.at(-1)! + 1);
          sinceReset.push(Number(d.seq));
        }
      }
      if (cleanSinceRestart && lastReceived >= 0 && sinceReset.length > 0) {
        // No unrecoverable gap since the last restart: everything from 0 arrived.
        expect(sinceReset[0]).toBe(0);
        expect(sinceReset.at(-1)).toBe(lastReceived);
        cleanRuns++;
      }
    }
    expect(cleanRuns).toBeGreaterThan(10);
  });
});
