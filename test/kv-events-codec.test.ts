import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../common/rng.ts';
import {
  decodeKvEventBatch,
  encodeKvEventBatch,
  KV_EVENT_SHAPES,
  type ExternalBlockHash,
  type KvCacheEvent,
  type KvEventBatch,
  type KvEventShape,
} from '../proto/kv-events/index.ts';

/** Seeded random batches for every shape the encoder writes, checked through the decoder. */

function randomHash(rng: Rng): ExternalBlockHash {
  switch (rng.int(5)) {
    case 0:
      return BigInt(rng.int(200)); // fixint / uint8: msgpack's compact forms
    case 1:
      return BigInt(rng.int(0xffff_ffff));
    case 2:
      return (BigInt(rng.int(0x1_0000_0000)) << 32n) | BigInt(rng.int(0x1_0000_0000)); // full u64
    case 3:
      return -BigInt(1 + rng.int(0x7fff_ffff)) * BigInt(1 + rng.int(0xffff)); // old signed engines
    default:
      return new Uint8Array(32).map(() => rng.int(256));
  }
}

function randomEvent(rng: Rng, shape: KvEventShape): KvCacheEvent {
  const modern = shape !== 'legacy-7';
  const maybe = <T>(value: () => T): T | null => (rng.next() < 0.5 ? value() : null);
  const roll = rng.next();
  if (roll < 0.6) {
    const blocks = 1 + rng.int(4);
    const blockSize = rng.pick([1, 4, 16]);
    return {
      type: 'BlockStored',
      blockHashes: Array.from({ length: blocks }, () => randomHash(rng)),
      parentBlockHash: maybe(() => randomHash(rng)),
      tokenIds: Array.from({ length: blocks * blockSize }, () => rng.int(152_000)),
      blockSize,
      loraId: maybe(() => rng.int(100)),
      medium: rng.pick(['GPU', 'CPU', null]),
      loraName: modern ? maybe(() => `adapter-${rng.int(9)}`) : null,
      extraKeys: modern
        ? maybe(() => Array.from({ length: blocks }, () => (rng.next() < 0.5 ? null : ['mm-hash', rng.int(1000)])))
        : null,
      groupIdx: modern ? maybe(() => rng.int(4)) : null,
      kvCacheSpecKind: modern ? maybe(() => rng.pick(['full_attention', 'sliding_window'])) : null,
      kvCacheSpecSlidingWindow: modern ? maybe(() => 128 * (1 + rng.int(8))) : null,
    };
  }
  if (roll < 0.9) {
    return {
      type: 'BlockRemoved',
      blockHashes: Array.from({ length: 1 + rng.int(5) }, () => randomHash(rng)),
      medium: rng.pick(['GPU', 'CPU', null]),
      groupIdx: modern ? maybe(() => rng.int(4)) : null,
    };
  }
  return { type: 'AllBlocksCleared' };
}

function randomBatch(rng: Rng, shape: KvEventShape): KvEventBatch {
  return {
    ts: rng.next() < 0.2 ? rng.int(2_000_000_000) : 1.7e9 + rng.uniform(0, 1e8),
    events: Array.from({ length: rng.int(6) }, () => randomEvent(rng, shape)),
    dataParallelRank: rng.next() < 0.2 ? null : rng.int(8),
  };
}

describe.each(KV_EVENT_SHAPES)('seeded random batches in the %s shape', (shape) => {
  it('decode to exactly what was encoded, 500 batches', () => {
    const rng = createRng(`kv-events-codec/${shape}`);
    for (let i = 0; i < 500; i++) {
      const batch = randomBatch(rng, shape);
      const payload = encodeKvEventBatch(batch, shape);
      const result = decodeKvEventBatch(payload);
      if (!result.ok) throw new Error(`batch ${i}: ${result.error.path}: ${result.error.message}`);
      expect(result.value.unknownEventTags).toEqual([]);
      expect(result.value.batch).toEqual(batch);
      // Re-encoding what was decoded gives the same bytes: nothing is lost or reordered.
      expect(Buffer.from(encodeKvEventBatch(result.value.batch, shape)).equals(Buffer.from(payload))).toBe(true);
    }
  });
});

describe('shapes against each other', () => {
  it('the same batch decodes identically from the current and the legacy-12 shape', () => {
    const rng = createRng('kv-events-codec/cross');
    for (let i = 0; i < 200; i++) {
      const batch = randomBatch(rng, 'legacy-12');
      const fromMap = decodeKvEventBatch(encodeKvEventBatch(batch, 'current'));
      const fromArray = decodeKvEventBatch(encodeKvEventBatch(batch, 'legacy-12'));
      expect(fromMap).toEqual(fromArray);
    }
  });

  it('the legacy-7 shape drops the fields its era did not have', () => {
    const batch: KvEventBatch = {
      ts: 1,
      dataParallelRank: 0,
      events: [
        {
          type: 'BlockStored',
          blockHashes: [1n],
          parentBlockHash: null,
          tokenIds: [5],
          blockSize: 1,
          loraId: 3,
          medium: 'GPU',
          loraName: 'x',
          extraKeys: [null],
          groupIdx: 2,
          kvCacheSpecKind: 'full_attention',
          kvCacheSpecSlidingWindow: null,
        },
      ],
    };
    const result = decodeKvEventBatch(encodeKvEventBatch(batch, 'legacy-7'));
    expect(result.ok && result.value.batch.events[0]).toMatchObject({
      loraId: 3,
      medium: 'GPU',
      loraName: null,
      extraKeys: null,
      groupIdx: null,
      kvCacheSpecKind: null,
    });
  });
});
