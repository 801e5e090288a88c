import {
  CodecFault,
  describe,
  isMap,
  readHashes,
  readInt,
  readInts,
  readOptHash,
  readOptInt,
  readOptString,
} from './decode-fields.ts';
import type { BlockRemoved, BlockStored, KvCacheEvent } from './types.ts';

/** One event read, or an event of a kind this decoder does not know (to be skipped and counted). */
export type ReadEvent =
  | { readonly kind: 'event'; readonly event: KvCacheEvent }
  | { readonly kind: 'unknown'; readonly tag: string };

/**
 * Field names in wire order (= vLLM's struct declaration order, which positional encodings
 * follow after the tag). Positional readers use the index, map readers the name.
 */
const STORED_FIELDS = [
  'block_hashes',
  'parent_block_hash',
  'token_ids',
  'block_size',
  'lora_id',
  'medium',
  'lora_name',
  'extra_keys',
  'group_idx',
  'kv_cache_spec_kind',
  'kv_cache_spec_sliding_window',
] as const;
const REMOVED_FIELDS = ['block_hashes', 'medium', 'group_idx'] as const;

/** Fields every era of each event carried (v0.8.5's BlockStored had 4 plus lora_id). */
const STORED_REQUIRED: readonly (typeof STORED_FIELDS)[number][] = ['block_hashes', 'token_ids', 'block_size'];
const REMOVED_REQUIRED: readonly (typeof REMOVED_FIELDS)[number][] = ['block_hashes'];

type FieldReader<N extends string> = (name: N) => unknown;

/** Reads one element of a batch's event list: a tagged positional array or a "type"-tagged map. */
export function readEvent(raw: unknown, path: string): ReadEvent {
  let tag: unknown;
  let fieldsOf: <N extends string>(names: readonly N[], required: readonly N[]) => FieldReader<N>;
  if (Array.isArray(raw)) {
    if (raw.length === 0) throw new CodecFault('event is an empty array (no tag)', path);
    tag = raw[0];
    fieldsOf = (names, required) => {
      // Positional: the tag, then the fields in order; shorter arrays are older engines (missing
      // trailing fields read as nil), longer arrays newer ones (extra elements ignored).
      if (raw.length < 1 + required.length)
        throw new CodecFault(
          `${String(tag)} has ${raw.length} elements, expected at least ${1 + required.length}`,
          path,
        );
      return (name) => raw[1 + names.indexOf(name)];
    };
  } else if (isMap(raw)) {
    if (!Object.hasOwn(raw, 'type')) return { kind: 'unknown', tag: '<missing>' };
    tag = raw.type;
    fieldsOf = (_names, required) => {
      for (const name of required)
        if (!Object.hasOwn(raw, name)) throw new CodecFault(`${String(tag)} lacks required key "${name}"`, path);
      return (name) => (Object.hasOwn(raw, name) ? raw[name] : undefined);
    };
  } else {
    throw new CodecFault(`event must be an array or a map, got ${describe(raw)}`, path);
  }
  if (typeof tag !== 'string') return { kind: 'unknown', tag: `<${describe(tag)}>` };
  switch (tag) {
    case 'BlockStored':
      return { kind: 'event', event: readStored(fieldsOf(STORED_FIELDS, STORED_REQUIRED), path) };
    case 'BlockRemoved':
      return { kind: 'event', event: readRemoved(fieldsOf(REMOVED_FIELDS, REMOVED_REQUIRED), path) };
    case 'AllBlocksCleared':
      return { kind: 'event', event: { type: 'AllBlocksCleared' } };
    default:
      return { kind: 'unknown', tag };
  }
}

function readStored(field: FieldReader<(typeof STORED_FIELDS)[number]>, path: string): BlockStored {
  const at = (name: string) => `${path}.${name}`;
  const extra = field('extra_keys');
  if (extra !== null && extra !== undefined && !Array.isArray(extra))
    throw new CodecFault(`expected an array or nil, got ${describe(extra)}`, at('extra_keys'));
  return {
    type: 'BlockStored',
    blockHashes: readHashes(field('block_hashes'), at('block_hashes')),
    parentBlockHash: readOptHash(field('parent_block_hash'), at('parent_block_hash')),
    tokenIds: readInts(field('token_ids'), at('token_ids')),
    blockSize: readInt(field('block_size'), at('block_size')),
    loraId: readOptInt(field('lora_id'), at('lora_id')),
    medium: readOptString(field('medium'), at('medium')),
    loraName: readOptString(field('lora_name'), at('lora_name')),
    extraKeys: Array.isArray(extra) ? (extra as unknown[]) : null,
    groupIdx: readOptInt(field('group_idx'), at('group_idx')),
    kvCacheSpecKind: readOptString(field('kv_cache_spec_kind'), at('kv_cache_spec_kind')),
    kvCacheSpecSlidingWindow: readOptInt(field('kv_cache_spec_sliding_window'), at('kv_cache_spec_sliding_window')),
  };
}

function readRemoved(field: FieldReader<(typeof REMOVED_FIELDS)[number]>, path: string): BlockRemoved {
  const at = (name: string) => `${path}.${name}`;
  return {
    type: 'BlockRemoved',
    blockHashes: readHashes(field('block_hashes'), at('block_hashes')),
    medium: readOptString(field('medium'), at('medium')),
    groupIdx: readOptInt(field('group_idx'), at('group_idx')),
  };
}
