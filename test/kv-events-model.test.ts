import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRng, type Rng } from '../common/rng.ts';
import { createKvEventSubscriber, type KvEventSubscriber } from '../orchestrator/kv-events/index.ts';
import {
  KV_EVENT_SHAPES,
  type ExternalBlockHash,
  type KvCacheEvent,
  type KvEventBatch,
  type KvEventShape,
} from '../proto/kv-events/index.ts';
import { createKvEventPublisher, type KvEventPublisher } from '../workers/kv-events/index.ts';

/**
 * A random engine model publishes BlockStored / BlockRemoved / AllBlocksCleared over real ZMQ
 * while the subscriber loses messages on receipt; the set of cached block hashes rebuilt on the
 * subscriber side must equal the engine's own set when replay can cover the losses, and never
 * hold a block the engine does not hold when it cannot.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const keyOf = (hash: ExternalBlockHash) =>
  typeof hash === 'bigint' ? `i${hash}` : `b${Buffer.from(hash).toString('hex')}`;

/** The engine's truth: which block hashes are cached, and the events that changed it. */
function createEngineModel(rng: Rng) {
  const cached = new Map<string, ExternalBlockHash>();
  const newHash = (): ExternalBlockHash =>
    rng.next() < 0.8
      ? (BigInt(rng.int(0x1_0000_0000)) << 32n) | BigInt(rng.int(0x1_0000_0000))
      : new Uint8Array(32).map(() => rng.int(256));
  return {
    cached,
    /** One scheduler step's events (never empty), applied to the truth. */
    step(allowClear: boolean): KvCacheEvent[] {
      const events: KvCacheEvent[] = [];
      for (let n = 1 + rng.int(3); n > 0; n--) {
        const roll = rng.next();
        if (allowClear && roll < 0.005) {
          cached.clear();
          events.push({ type: 'AllBlocksCleared' });
        } else if (roll < 0.4 && cached.size > 0) {
          const keys = [...cached.keys()];
          const victims = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(keys));
          const hashes = [...new Set(victims)].map((key) => cached.get(key)!);
          for (const key of new Set(victims)) cached.delete(key);
          events.push({ type: 'BlockRemoved', blockHashes: hashes, medium: 'GPU', groupIdx: null });
        } else {
          const blocks = Array.from({ length: 1 + rng.int(4) }, newHash);
          for (const hash of blocks) cached.set(keyOf(hash), hash);
          events.push({
            type: 'BlockStored',
            blockHashes: blocks,
            parentBlockHash: rng.next() < 0.5 ? null : newHash(),
            tokenIds: Array.from({ length: blocks.length * 16 }, () => rng.int(150_000)),
            blockSize: 16,
            loraId: null,
            medium: 'GPU',
            loraName: null,
            extraKeys: null,
            groupIdx: null,
          });
        }
      }
      return events;
    },
  };
}

/** The orchestrator side: the hash set rebuilt from delivered batches; a reset empties it. */
function createRebuiltIndex() {
  const held = new Set<string>();
  return {
    held,
    apply(batch: KvEventBatch) {
      for (const event of batch.events) {
        if (event.type === 'AllBlocksCleared') held.clear();
        else if (event.type === 'BlockStored') for (const hash of event.blockHashes) held.add(keyOf(hash));
        else for (const hash of event.blockHashes) held.delete(keyOf(hash));
      }
    },
  };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Run {
  readonly truth: ReadonlySet<string>;
  readonly rebuilt: ReadonlySet<string>;
  readonly sub: KvEventSubscriber;
  readonly dropped: number;
}

async function run(options: {
  seed: string;
  shape: KvEventShape;
  steps: number;
  bufferSteps: number;
  drop: (rng: Rng, seq: bigint) => boolean;
}): Promise<Run> {
  const rng = createRng(options.seed);
  const dropRng = rng.fork('drops');
  const pub: KvEventPublisher = await createKvEventPublisher({
    endpoint: 'tcp://127.0.0.1:0',
    replayEndpoint: 'tcp://127.0.0.1:0',
    topic: 'kv',
    shape: options.shape,
    bufferSteps: options.bufferSteps,
  });
  closers.push(() => pub.close());
  const engine = createEngineModel(rng.fork('engine'));
  const index = createRebuiltIndex();
  // Messages published in the loop below may be dropped on receipt, whenever they arrive (the
  // subscriber reads in time slices, so most arrive after the loop); the last one never is.
  let droppableUpTo: bigint | undefined;
  let dropped = 0;
  const sub = createKvEventSubscriber({
    endpoint: pub.endpoint,
    replayEndpoint: pub.replayEndpoint!,
    topic: 'kv',
    onBatch: (_seq, batch) => index.apply(batch),
    onReset: () => index.held.clear(),
    dropOnReceipt: (seq) => {
      const drop = (droppableUpTo === undefined || seq <= droppableUpTo) && options.drop(dropRng, seq);
      if (drop) dropped++;
      return drop;
    },
  });
  closers.push(() => sub.close());
  let loopLast = -1n;
  for (let i = 0; i < options.steps; i++) {
    // Resets of the cache stop at 80% so the final set is never trivially small.
    loopLast = pub.publish(engine.step(i < options.steps * 0.8), 0);
    if (i % 25 === 0) await sleep(1); // let the subscriber, and its replays, run between bursts
  }
  droppableUpTo = loopLast;
  const last = pub.publish(engine.step(false), 0);
  await waitFor(`seq ${last}`, () => sub.stats().lastSeq === last);
  return { truth: new Set(engine.cached.keys()), rebuilt: index.held, sub, dropped };
}

describe.each(KV_EVENT_SHAPES)('the rebuilt block set, %s shape', (shape) => {
  it('equals the engine truth despite random drops, when replay covers every gap', async () => {
    const result = await run({
      seed: `kv-model/${shape}`,
      shape,
      steps: 600,
      bufferSteps: 10_000,
      drop: (rng) => rng.next() < 0.1,
    });
    expect(result.dropped).toBeGreaterThan(30);
    expect(result.truth.size).toBeGreaterThan(50);
    expect(result.sub.stats()).toMatchObject({ resets: 0, decodeErrors: 0 });
    expect(result.sub.stats().replayedBatches).toBeGreaterThanOrEqual(result.dropped);
    expect([...result.rebuilt].sort()).toEqual([...result.truth].sort());
  });
});

describe('the rebuilt block set when losses outrun the replay ring', () => {
  it('resets and never holds a block the engine does not hold', async () => {
    // Bursts of 30 consecutive losses against a ring of 8 batches.
    const result = await run({
      seed: 'kv-model/overrun',
      shape: 'current',
      steps: 400,
      bufferSteps: 8,
      drop: (_rng, seq) => seq % 100n >= 50n && seq % 100n < 80n,
    });
    expect(result.sub.stats().unrecoverableGaps).toBeGreaterThan(0);
    const stale = [...result.rebuilt].filter((key) => !result.truth.has(key));
    expect(stale).toEqual([]);
    expect(result.rebuilt.size).toBeGreaterThan(0);
  });
});
