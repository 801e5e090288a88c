import { encode as msgpackEncode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { decodeKvEventBatch } from './decode.ts';
import { encodeKvEventBatch } from './encode.ts';
import { blockStored, type BlockStored, type KvEventBatch } from './types.ts';

// The worked example of PROTOCOLS.md 1.5: tokens 1..16, block size 16, sha256_cbor with
// PYTHONHASHSEED=0, int hashes, ts = 1.5, dp_rank = 0; bytes produced by msgspec 0.22.
const HASH = 3236607068019569386n; // 0x2ceabcfae6d332ea
const TOKENS = Array.from({ length: 16 }, (_, i) => i + 1);
const LEGACY_7 =
  '93cb3ff80000000000009197ab426c6f636b53746f72656491cf2ceabcfae6d332eac0dc00100102030405060708090a0b0c0d0e0f1010c0a347505500';
const LEGACY_12 =
  '93cb3ff8000000000000919cab426c6f636b53746f72656491cf2ceabcfae6d332eac0dc00100102030405060708090a0b0c0d0e0f1010c0a3475055c0c0c0c0c000';
const MAP_STORED =
  '93cb3ff80000000000009188a474797065ab426c6f636b53746f726564ac626c6f636b5f68617368657391cf2ceabcfae6d332eab1706172656e745f626c6f636b5f68617368c0a9746f6b656e5f696473dc00100102030405060708090a0b0c0d0e0f10aa626c6f636b5f73697a6510a76c6f72615f6964c0a66d656469756da3475055a96c6f72615f6e616d65c000';
const LEGACY_REMOVED_CLEARED =
  '93cb3ff80000000000009294ac426c6f636b52656d6f76656491cf2ceabcfae6d332eaa3475055c091b0416c6c426c6f636b73436c656172656400';

// blockStored()'s defaults, encoded, must give these bytes of vLLM's.
const stored = (overrides: Partial<BlockStored> = {}): BlockStored =>
  blockStored({ blockHashes: [HASH], parentBlockHash: null, tokenIds: TOKENS, blockSize: 16, ...overrides });
const storedBatch: KvEventBatch = { ts: 1.5, events: [stored()], dataParallelRank: 0 };
const removedBatch: KvEventBatch = {
  ts: 1.5,
  events: [{ type: 'BlockRemoved', blockHashes: [HASH], medium: 'GPU', groupIdx: null }, { type: 'AllBlocksCleared' }],
  dataParallelRank: 0,
};

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
/** A msgpack fixstr, assembled by hand (strings here are < 32 bytes). */
const str = (text: string) => (0xa0 + text.length).toString(16) + Buffer.from(text).toString('hex');
/** Any msgpack value, written by the library directly (not by our encoder). */
const raw = (value: unknown) => msgpackEncode(value, { useBigInt64: true });

function decoded(payload: Uint8Array) {
  const result = decodeKvEventBatch(payload);
  if (!result.ok) throw new Error(`decode failed: ${result.error.path} ${result.error.message}`);
  return result.value;
}

describe('encodeKvEventBatch on the worked examples', () => {
  it('writes the legacy 7-field BlockStored byte for byte', () => {
    expect(hex(encodeKvEventBatch(storedBatch, 'legacy-7'))).toBe(LEGACY_7);
  });

  it('writes the legacy 12-field BlockStored byte for byte', () => {
    expect(hex(encodeKvEventBatch(storedBatch, 'legacy-12'))).toBe(LEGACY_12);
  });

  it('writes the current map-tagged BlockStored byte for byte, omitting None defaults and keeping required nils', () => {
    expect(hex(encodeKvEventBatch(storedBatch, 'current'))).toBe(MAP_STORED);
  });

  it('writes legacy BlockRemoved (4 elements, trailing group_idx nil) and AllBlocksCleared byte for byte', () => {
    expect(hex(encodeKvEventBatch(removedBatch, 'legacy-12'))).toBe(LEGACY_REMOVED_CLEARED);
  });

  it('writes the map form of BlockRemoved + AllBlocksCleared as assembled by hand', () => {
    const expected =
      '93cb3ff8000000000000' +
      '92' +
      ('83' +
        str('type') +
        str('BlockRemoved') +
        str('block_hashes') +
        '91cf2ceabcfae6d332ea' +
        str('medium') +
        str('GPU')) +
      ('81' + str('type') + str('AllBlocksCleared')) +
      '00';
    expect(hex(encodeKvEventBatch(removedBatch, 'current'))).toBe(expected);
  });

  it('writes ts as a float64 even when it is integral, and a null dp rank as nil', () => {
    const out = encodeKvEventBatch({ ts: 2, events: [], dataParallelRank: null }, 'current');
    expect(hex(out)).toBe('93cb400000000000000090c0');
  });

  it('writes small and negative hashes in the smallest integer form, as msgspec does', () => {
    const out = encodeKvEventBatch(
      {
        ts: 0,
        events: [
          {
            type: 'BlockRemoved',
            blockHashes: [5n, -3n, 0xffff_ffffn, -(1n << 40n), 1n << 40n],
            medium: null,
            groupIdx: null,
          },
        ],
        dataParallelRank: 0,
      },
      'legacy-7',
    );
    // [ "BlockRemoved", [5, -3, 0xffffffff, -2^40, 2^40], nil ]: integers, never floats
    expect(hex(out)).toContain('9505fdceffffffffd3ffffff0000000000cf0000010000000000c0');
  });

  it('writes byte-string hashes as msgpack bin', () => {
    const digest = new Uint8Array(32).fill(0xab);
    const out = encodeKvEventBatch(
      {
        ts: 0,
        events: [{ type: 'BlockRemoved', blockHashes: [digest], medium: 'GPU', groupIdx: null }],
        dataParallelRank: 0,
      },
      'current',
    );
    expect(hex(out)).toContain(`91c420${'ab'.repeat(32)}`);
  });
});

describe('decodeKvEventBatch on the worked examples', () => {
  it.each([
    ['legacy 7-field', LEGACY_7],
    ['legacy 12-field', LEGACY_12],
    ['current map', MAP_STORED],
  ])('reads the %s BlockStored', (_name, payload) => {
    const { batch, unknownEventTags } = decoded(bytes(payload));
    expect(unknownEventTags).toEqual([]);
    expect(batch).toEqual({
      ts: 1.5,
      dataParallelRank: 0,
      events: [{ ...stored(), kvCacheSpecKind: null, kvCacheSpecSlidingWindow: null }],
    });
    const event = batch.events[0] as BlockStored;
    expect(typeof event.blockHashes[0]).toBe('bigint');
  });

  it('reads legacy BlockRemoved + AllBlocksCleared', () => {
    expect(decoded(bytes(LEGACY_REMOVED_CLEARED)).batch).toEqual(removedBatch);
  });

  it('reads the v0.26 capture shape (extra_keys [None], group_idx 0, kv_cache_spec_kind)', () => {
    const ids = [9707, 11, 1879, 374, 264, 1273, 13, 576, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562];
    const payload = raw([
      1789095808.83,
      [
        {
          type: 'BlockStored',
          block_hashes: [15760518052499183552n],
          parent_block_hash: null,
          token_ids: ids,
          block_size: 16,
          lora_id: null,
          medium: 'GPU',
          lora_name: null,
          extra_keys: [null],
          group_idx: 0,
          kv_cache_spec_kind: 'full_attention',
        },
      ],
      0,
    ]);
    const { batch } = decoded(payload);
    expect(batch.ts).toBe(1789095808.83);
    expect(batch.events[0]).toEqual({
      ...stored({ blockHashes: [15760518052499183552n], tokenIds: ids, extraKeys: [null], groupIdx: 0 }),
      kvCacheSpecKind: 'full_attention',
      kvCacheSpecSlidingWindow: null,
    });
  });
});

describe('decodeKvEventBatch tolerance', () => {
  it('reads a 2-element batch from engines before dp_rank as rank null', () => {
    expect(decoded(raw([3.25, [['AllBlocksCleared']]])).batch).toEqual({
      ts: 3.25,
      events: [{ type: 'AllBlocksCleared' }],
      dataParallelRank: null,
    });
  });

  it('reads an outer batch encoded as a map, ignoring unknown keys', () => {
    const payload = raw({
      ts: 1.5,
      events: [{ type: 'AllBlocksCleared' }],
      data_parallel_rank: 2,
      publisher_epoch: 'x',
    });
    expect(decoded(payload).batch).toEqual({ ts: 1.5, events: [{ type: 'AllBlocksCleared' }], dataParallelRank: 2 });
  });

  it('reads negative int64 hashes from old engines as negative bigints', () => {
    const payload = raw([1, [['BlockRemoved', [-1n, -5, -(1n << 62n)]]], 0]);
    const event = decoded(payload).batch.events[0];
    expect(event).toEqual({
      type: 'BlockRemoved',
      blockHashes: [-1n, -5n, -(1n << 62n)],
      medium: null,
      groupIdx: null,
    });
  });

  it('reads compactly encoded small hashes as bigint, never as number', () => {
    const payload = raw([1, [['BlockStored', [7, 300, 70000], 1, [], 16, null, 'GPU']], 0]);
    const event = decoded(payload).batch.events[0] as BlockStored;
    expect(event.blockHashes).toEqual([7n, 300n, 70000n]);
    expect(event.parentBlockHash).toBe(1n);
  });

  it('reads uint64 hashes above 2^63 exactly', () => {
    const big = 0xffff_ffff_ffff_fffen;
    const event = decoded(raw([1, [['BlockRemoved', [big], 'GPU']], 0])).batch.events[0];
    expect(event).toMatchObject({ blockHashes: [big] });
  });

  it('reads raw-digest hashes as byte strings', () => {
    const digest = new Uint8Array(32).map((_, i) => i);
    const event = decoded(
      raw([
        1,
        [
          {
            type: 'BlockStored',
            block_hashes: [digest],
            parent_block_hash: digest,
            token_ids: [],
            block_size: 16,
            lora_id: null,
            medium: 'GPU',
            lora_name: null,
          },
        ],
        0,
      ]),
    ).batch.events[0] as BlockStored;
    expect(event.blockHashes[0]).toBeInstanceOf(Uint8Array);
    expect(Array.from(event.blockHashes[0] as Uint8Array)).toEqual(Array.from(digest));
    expect(event.parentBlockHash).toBeInstanceOf(Uint8Array);
  });

  it('reads a v0.8.5 6-element BlockStored (no medium) and ignores extra trailing elements', () => {
    const old = ['BlockStored', [1n], null, [1, 2], 2, null];
    const future = [
      'BlockStored',
      [2n],
      1n,
      [3, 4],
      2,
      null,
      'CPU',
      'adapter',
      null,
      1,
      'sliding_window',
      128,
      'new-field',
      { x: 1 },
    ];
    const { batch } = decoded(raw([1, [old, future], 0]));
    expect(batch.events[0]).toMatchObject({ blockHashes: [1n], medium: null, loraId: null, loraName: null });
    expect(batch.events[1]).toMatchObject({
      blockHashes: [2n],
      medium: 'CPU',
      loraName: 'adapter',
      groupIdx: 1,
      kvCacheSpecKind: 'sliding_window',
      kvCacheSpecSlidingWindow: 128,
    });
  });

  it('ignores unknown keys in map events', () => {
    const event = { type: 'BlockRemoved', block_hashes: [9], medium: 'GPU', cache_salt: 'abc', session_id: 7 };
    expect(decoded(raw([1, [event], 0])).batch.events).toEqual([
      { type: 'BlockRemoved', blockHashes: [9n], medium: 'GPU', groupIdx: null },
    ]);
  });

  it('skips and lists events with unknown tags, keeping the known ones in order', () => {
    const events = [
      ['BlockStored', [1], null, [1], 1, null, 'GPU'],
      ['BlockPinned', [1]],
      { type: 'SnapshotTaken' },
      { block_hashes: [] },
      [42, 1],
      ['AllBlocksCleared'],
    ];
    const { batch, unknownEventTags } = decoded(raw([1, events, 0]));
    expect(batch.events.map((e) => e.type)).toEqual(['BlockStored', 'AllBlocksCleared']);
    expect(unknownEventTags).toEqual(['BlockPinned', 'SnapshotTaken', '<missing>', '<an integer>']);
  });
});

describe('decodeKvEventBatch on garbage', () => {
  it.each([
    ['an empty payload', new Uint8Array()],
    ['a truncated payload', bytes(MAP_STORED.slice(0, 60))],
    ['trailing bytes', bytes(`${LEGACY_7}00`)],
    ['a bare string', raw('hello')],
    ['a 1-element batch', raw([1.5])],
    ['a string ts', raw(['now', [], 0])],
    ['events that are not an array', raw([1.5, { type: 'AllBlocksCleared' }, 0])],
    ['an event that is a number', raw([1.5, [7], 0])],
    ['an empty event array', raw([1.5, [[]], 0])],
    ['a float hash', raw([1.5, [['BlockRemoved', [1.5]]], 0])],
    ['a string hash', raw([1.5, [['BlockRemoved', ['abc']]], 0])],
    ['a string token id', raw([1.5, [['BlockStored', [1], null, ['x'], 1, null, 'GPU']], 0])],
    ['a BlockStored with too few fields', raw([1.5, [['BlockStored', [1], null, [1]]], 0])],
    [
      'a map BlockStored without token_ids',
      raw([1.5, [{ type: 'BlockStored', block_hashes: [1], block_size: 16 }], 0]),
    ],
    ['a non-string medium', raw([1.5, [['BlockRemoved', [1], 5]], 0])],
    ['a float dp rank', raw([1.5, [], 0.5])],
  ])('returns an error result for %s', (_name, payload) => {
    const result = decodeKvEventBatch(payload);
    expect(result.ok).toBe(false);
  });

  it('names the path of the bad field', () => {
    const result = decodeKvEventBatch(raw([1.5, [['AllBlocksCleared'], ['BlockRemoved', [1, 2, 'x']]], 0]));
    expect(result.ok ? '' : result.error.path).toBe('events[1].block_hashes[2]');
  });

  it('never throws on random bytes or on mutations of valid payloads', () => {
    let state = 0x9e3779b9;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 4294967296;
    };
    const valid = [LEGACY_7, LEGACY_12, MAP_STORED, LEGACY_REMOVED_CLEARED].map(bytes);
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      let payload: Uint8Array;
      if (i % 2 === 0) {
        payload = new Uint8Array(1 + Math.floor(next() * 64)).map(() => Math.floor(next() * 256));
      } else {
        payload = valid[i % valid.length]!.slice();
        for (let k = 0; k < 3; k++) payload[Math.floor(next() * payload.length)] = Math.floor(next() * 256);
      }
      const result = decodeKvEventBatch(payload);
      if (!result.ok) errors++;
    }
    expect(errors).toBeGreaterThan(1000);
  });
});
