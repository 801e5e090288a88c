import { Encoder } from '@msgpack/msgpack';
import type {
  AllBlocksCleared,
  BlockRemoved,
  BlockStored,
  ExternalBlockHash,
  KvCacheEvent,
  KvEventBatch,
} from './types.ts';

/**
 * Which of vLLM's wire shapes to write (decode.ts reads all of them, and more):
 * - `current`: vLLM after PR #42892 (v0.26 and later): outer batch positional
 *   `[ts, events, dp_rank]`, each event a map tagged by `"type"`, fields equal to their default
 *   omitted exactly as msgspec's omit_defaults does, required-but-None fields present as nil.
 * - `legacy-12`: the last all-positional releases: each event an array, tag first, every field
 *   written (msgspec's array_like never omits defaults): BlockStored 12 elements, BlockRemoved 4.
 * - `legacy-7`: the positional shape of the hashes..medium era (BlockStored 7 elements,
 *   BlockRemoved 3). Fields that era did not have (lora_name, extra_keys, group_idx, spec kind)
 *   are not written, so they do not survive a round trip.
 */
export type KvEventShape = 'current' | 'legacy-12' | 'legacy-7';

export const KV_EVENT_SHAPES: readonly KvEventShape[] = ['current', 'legacy-12', 'legacy-7'];

// useBigInt64: bigint values are written as uint64 (0xcf) or int64 (0xd3). Safe-range JS numbers
// at or past 2^32 would be written as floats in that mode, so wireInt() turns them into bigints.
const encoder = new Encoder({ useBigInt64: true });

const U64_LIMIT = 1n << 64n;
const I64_MIN = -(1n << 63n);

/**
 * Encodes one batch as msgspec would: the bytes of frame 3 of a KV-event message. `ts` is always
 * written as a float64, as Python's time.time() is. Throws RangeError on values the wire cannot
 * carry (a hash outside the 64-bit range, a non-integer token id): those are programming errors.
 */
export function encodeKvEventBatch(batch: KvEventBatch, shape: KvEventShape = 'current'): Uint8Array {
  const events = batch.events.map((event) => (shape === 'current' ? eventAsMap(event) : eventAsArray(event, shape)));
  const head = new Uint8Array(10);
  head[0] = 0x93; // fixarray of 3: [ts, events, data_parallel_rank]
  head[1] = 0xcb; // float64
  new DataView(head.buffer).setFloat64(2, batch.ts, false);
  const body = encoder.encode(events);
  const rank = encoder.encode(
    batch.dataParallelRank === null ? null : wireInt(batch.dataParallelRank, 'data_parallel_rank'),
  );
  const out = new Uint8Array(head.length + body.length + rank.length);
  out.set(head, 0);
  out.set(body, head.length);
  out.set(rank, head.length + body.length);
  return out;
}

function eventAsMap(event: KvCacheEvent): Record<string, unknown> {
  switch (event.type) {
    case 'BlockStored': {
      const map: Record<string, unknown> = {
        type: event.type,
        block_hashes: event.blockHashes.map(wireHash),
        parent_block_hash: event.parentBlockHash === null ? null : wireHash(event.parentBlockHash),
        token_ids: event.tokenIds.map((id) => wireInt(id, 'token_ids')),
        block_size: wireInt(event.blockSize, 'block_size'),
        lora_id: optInt(event.loraId, 'lora_id'),
        medium: event.medium,
        lora_name: event.loraName,
      };
      // Fields with a default of None: omitted when None (msgspec omit_defaults).
      if (event.extraKeys !== null) map.extra_keys = wireValue(event.extraKeys);
      if (event.groupIdx !== null) map.group_idx = wireInt(event.groupIdx, 'group_idx');
      if (event.kvCacheSpecKind != null) map.kv_cache_spec_kind = event.kvCacheSpecKind;
      if (event.kvCacheSpecSlidingWindow != null)
        map.kv_cache_spec_sliding_window = wireInt(event.kvCacheSpecSlidingWindow, 'kv_cache_spec_sliding_window');
      return map;
    }
    case 'BlockRemoved': {
      const map: Record<string, unknown> = {
        type: event.type,
        block_hashes: event.blockHashes.map(wireHash),
        medium: event.medium,
      };
      if (event.groupIdx !== null) map.group_idx = wireInt(event.groupIdx, 'group_idx');
      return map;
    }
    case 'AllBlocksCleared':
      return { type: event.type };
  }
}

function eventAsArray(event: KvCacheEvent, shape: 'legacy-12' | 'legacy-7'): unknown[] {
  switch (event.type) {
    case 'BlockStored':
      return storedAsArray(event, shape);
    case 'BlockRemoved':
      return removedAsArray(event, shape);
    case 'AllBlocksCleared':
      return clearedAsArray(event);
  }
}

function storedAsArray(event: BlockStored, shape: 'legacy-12' | 'legacy-7'): unknown[] {
  const fields: unknown[] = [
    event.type,
    event.blockHashes.map(wireHash),
    event.parentBlockHash === null ? null : wireHash(event.parentBlockHash),
    event.tokenIds.map((id) => wireInt(id, 'token_ids')),
    wireInt(event.blockSize, 'block_size'),
    optInt(event.loraId, 'lora_id'),
    event.medium,
  ];
  if (shape === 'legacy-7') return fields;
  fields.push(
    event.loraName,
    event.extraKeys === null ? null : wireValue(event.extraKeys),
    optInt(event.groupIdx, 'group_idx'),
    event.kvCacheSpecKind ?? null,
    optInt(event.kvCacheSpecSlidingWindow ?? null, 'kv_cache_spec_sliding_window'),
  );
  return fields;
}

function removedAsArray(event: BlockRemoved, shape: 'legacy-12' | 'legacy-7'): unknown[] {
  const fields: unknown[] = [event.type, event.blockHashes.map(wireHash), event.medium];
  if (shape === 'legacy-12') fields.push(optInt(event.groupIdx, 'group_idx'));
  return fields;
}

function clearedAsArray(event: AllBlocksCleared): unknown[] {
  return [event.type];
}

/** A hash in msgspec's smallest integer form (bigints in 32-bit range become numbers), or bin. */
function wireHash(hash: ExternalBlockHash): unknown {
  if (hash instanceof Uint8Array) return hash;
  if (hash < I64_MIN || hash >= U64_LIMIT) throw new RangeError(`block hash ${hash} is outside the 64-bit range`);
  return hash >= -0x8000_0000n && hash < 0x1_0000_0000n ? Number(hash) : hash;
}

function wireInt(value: number, field: string): number | bigint {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${field}: ${value} is not an integer`);
  return value >= -0x8000_0000 && value < 0x1_0000_0000 ? value : BigInt(value);
}

function optInt(value: number | null, field: string): number | bigint | null {
  return value === null ? null : wireInt(value, field);
}

/** Free-form values (extra_keys): integers past 32 bits as bigints so they stay integers. */
function wireValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? wireInt(value, 'extra_keys') : value;
  if (Array.isArray(value)) return value.map(wireValue);
  return value;
}
