import { decode as msgpackDecode } from '@msgpack/msgpack';
import { setTimeout as sleep } from 'node:timers/promises';
import { Subscriber } from 'zeromq';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createKvEventSubscriber,
  type KvEventSubscriber,
  type KvResetReason,
} from '../orchestrator/kv-events/index.ts';
import { decodeSeq, type KvEventBatch } from '../proto/kv-events/index.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * A running worker process's KV events over real ZMQ: a subscriber that loses some live
 * messages recovers them through the worker's replay socket, and the prefix cache it rebuilds
 * from the events is exactly the worker's own (its debug route). Also: the wire's framing and
 * the legacy positional shape behind --kv-event-shape.
 */
const fleet = createWorkerFleet();
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await fleet.stopAll();
});

const MODEL = 'Qwen/Qwen3-8B';

async function complete(worker: WorkerProcess, prompt: number[], maxTokens: number): Promise<void> {
  const response = await fetch(`${worker.ready.http}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens }),
  });
  expect(response.status).toBe(200);
  await response.text();
}

async function workerHashes(worker: WorkerProcess): Promise<Set<string>> {
  const body = (await (await fetch(`${worker.ready.http}/debug/cached-block-hashes`)).json()) as { hashes: string[] };
  return new Set(body.hashes);
}

describe('KV events of a running worker', () => {
  it("rebuilds the worker's cached block hashes after dropping live messages and recovering them by replay", async () => {
    // 48 blocks of 16 tokens: the traffic below overflows them, so blocks are evicted too.
    const worker = await fleet.start([
      '--time-scale',
      '50',
      '--num-gpu-blocks',
      '48',
      '--kv-events-topic',
      'kv-events',
    ]);
    const cached = new Set<string>();
    const resets: KvResetReason[] = [];
    let stored = 0;
    let removed = 0;
    let emptyBatches = 0;
    const apply = (batch: KvEventBatch) => {
      if (batch.events.length === 0) emptyBatches++;
      for (const event of batch.events) {
        if (event.type === 'BlockStored') {
          stored += event.blockHashes.length;
          for (const hash of event.blockHashes) cached.add(String(hash));
        } else if (event.type === 'BlockRemoved') {
          removed += event.blockHashes.length;
          for (const hash of event.blockHashes) cached.delete(String(hash));
        } else {
          cached.clear();
        }
      }
    };
    const dropped = new Set([1n, 2n, 5n, 9n, 10n]);
    const subscriber: KvEventSubscriber = createKvEventSubscriber({
      endpoint: worker.ready.kv_events!,
      replayEndpoint: worker.ready.replay!,
      topic: 'kv-events',
      onBatch: (_seq, batch) => apply(batch),
      onReset: (reason) => {
        resets.push(reason);
        cached.clear();
      },
      dropOnReceipt: (seq) => dropped.has(seq),
      replayTimeoutMs: 5000,
    });
    closers.push(() => subscriber.close());
    await waitFor(
      () => subscriber.stats().connected,
      (connected) => connected,
      10_000,
      'the subscriber to connect',
    );

    // Three prompt families sharing 96-token prefixes, each request adding its own 64 tokens.
    const family = (f: number) => Array.from({ length: 96 }, (_, i) => 10_000 * (f + 1) + i);
    for (let i = 0; i < 18; i++) {
      const unique = Array.from({ length: 64 }, (_, j) => 50_000 + i * 100 + j);
      await complete(worker, [...family(i % 3), ...unique], 4);
    }

    const expected = await workerHashes(worker);
    await waitFor(
      () => [...cached].sort().join(),
      (now) => now === [...expected].sort().join(),
      15_000,
      "the rebuilt hashes to equal the worker's",
    );
    const stats = subscriber.stats();
    expect(stats.droppedByFaultInjection).toBe(dropped.size);
    expect(stats.replays).toBeGreaterThanOrEqual(1);
    expect(stats.decodeErrors).toBe(0);
    expect(resets).toEqual([]);
    expect(emptyBatches).toBe(0);
    expect(removed).toBeGreaterThan(0);
    expect(stored).toBeGreaterThan(removed);
    expect(expected.size).toBeGreaterThan(0);
    expect(expected.size).toBeLessThanOrEqual(48);
  });

  it('publishes three frames (topic, 8-byte sequence from 0, msgpack batch) in the current map shape by default', async () => {
    const worker = await fleet.start(['--time-scale', '50']);
    const frames = await firstMessage(worker, () =>
      complete(
        worker,
        Array.from({ length: 40 }, (_, i) => 700 + i),
        2,
      ),
    );
    expect(frames).toHaveLength(3);
    expect(Buffer.from(frames[0]!).toString()).toBe('');
    expect(frames[1]!.byteLength).toBe(8);
    expect(decodeSeq(frames[1]!)).toEqual({ ok: true, value: 0n });
    const root = msgpackDecode(frames[2]!, { useBigInt64: true }) as unknown[];
    expect(root).toHaveLength(3);
    const event = (root[1] as unknown[])[0] as Record<string, unknown>;
    expect(event.type).toBe('BlockStored');
    expect(event.block_size).toBe(16);
    expect(event.medium).toBe('GPU');
    expect((event.block_hashes as unknown[]).every((h) => typeof h === 'bigint')).toBe(true);
    expect(event.token_ids).toEqual(Array.from({ length: 32 }, (_, i) => 700 + i));
  });

  it('publishes the legacy positional shape behind --kv-event-shape', async () => {
    const worker = await fleet.start(['--time-scale', '50', '--kv-event-shape', 'legacy-7']);
    const frames = await firstMessage(worker, () =>
      complete(
        worker,
        Array.from({ length: 40 }, (_, i) => 900 + i),
        2,
      ),
    );
    const root = msgpackDecode(frames[2]!, { useBigInt64: true }) as unknown[];
    const event = (root[1] as unknown[])[0] as unknown[];
    expect(Array.isArray(event)).toBe(true);
    expect(event).toHaveLength(7);
    expect(event[0]).toBe('BlockStored');
    expect(event[4]).toBe(16);
    expect(event[6]).toBe('GPU');
  });
});

/**
 * The first message a fresh SUB socket receives after `traffic`. ZMQ drops what is published
 * before a subscription reaches the publisher, so the traffic starts once the socket has
 * connected and its subscription had a moment to travel.
 */
async function firstMessage(worker: WorkerProcess, traffic: () => Promise<void>): Promise<Uint8Array[]> {
  const sub = new Subscriber({ linger: 0 });
  closers.push(() => sub.close());
  const connected = new Promise<void>((resolve) => sub.events.on('connect', () => resolve()));
  sub.connect(worker.ready.kv_events!);
  sub.subscribe();
  await connected;
  await sleep(300);
  const received = sub.receive();
  await traffic();
  return Promise.race([received, sleep(10_000).then(() => Promise.reject(new Error('no KV-event message arrived')))]);
}
