/**
 * vLLM's KV-cache events (vllm/distributed/kv_events.py) as plain TypeScript data. One
 * KvEventBatch is published per engine step that changed the prefix cache; the codec beside
 * this file (encode.ts, decode.ts) reads and writes every wire shape vLLM has used.
 *
 * Block hashes are `bigint` (vLLM's default: the last 8 bytes of the digest as an unsigned
 * 64-bit int; very old engines sent signed ints) or `Uint8Array` (raw digests when
 * VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0). Never a JS number: values exceed 2^53.
 */
export type ExternalBlockHash = bigint | Uint8Array;

export interface BlockStored {
  readonly type: 'BlockStored';
  /** Hashes of newly cached full blocks, in prompt order. */
  readonly blockHashes: readonly ExternalBlockHash[];
  /** Hash of the block before blockHashes[0]; null when the run starts the sequence. */
  readonly parentBlockHash: ExternalBlockHash | null;
  /** The tokens of exactly these blocks, concatenated: blockSize * blockHashes.length ids. */
  readonly tokenIds: readonly number[];
  readonly blockSize: number;
  readonly loraId: number | null;
  /** "GPU" for device blocks; offload connectors emit "CPU" and others. */
  readonly medium: string | null;
  readonly loraName: string | null;
  /** Per-block extra hash keys (multimodal, cache salt); null when none. */
  readonly extraKeys: readonly unknown[] | null;
  /** KV-cache group (hybrid models); null for single-group models. */
  readonly groupIdx: number | null;
  /**
   * The group's KV-cache spec kind ("full_attention", "sliding_window", "mamba", ...); null or
   * absent from engines before vLLM #40984. Optional so older producers need not set it.
   */
  readonly kvCacheSpecKind?: string | null;
  /** Sliding-window size in tokens when kvCacheSpecKind is "sliding_window"; else null/absent. */
  readonly kvCacheSpecSlidingWindow?: number | null;
}

/** What a BlockStored's producer decides; the other fields default as `blockStored()` fills them. */
export type BlockStoredFields = Pick<BlockStored, 'blockHashes' | 'parentBlockHash' | 'tokenIds' | 'blockSize'> &
  Partial<BlockStored>;

/**
 * A BlockStored event as vLLM publishes one for device blocks of a single-group model with no
 * LoRA and no extra hash keys (medium "GPU", the rest null); `fields` may override any of them.
 */
export function blockStored(fields: BlockStoredFields): BlockStored {
  return {
    type: 'BlockStored',
    loraId: null,
    medium: 'GPU',
    loraName: null,
    extraKeys: null,
    groupIdx: null,
    ...fields,
  };
}

export interface BlockRemoved {
  readonly type: 'BlockRemoved';
  readonly blockHashes: readonly ExternalBlockHash[];
  readonly medium: string | null;
  readonly groupIdx: number | null;
}

export interface AllBlocksCleared {
  readonly type: 'AllBlocksCleared';
}

export type KvCacheEvent = BlockStored | BlockRemoved | AllBlocksCleared;

export interface KvEventBatch {
  /** Publisher's wall time, seconds since the Unix epoch (Python time.time()). */
  readonly ts: number;
  readonly events: readonly KvCacheEvent[];
  /** Data-parallel rank of the publishing engine; null from engines that predate the field. */
  readonly dataParallelRank: number | null;
}

/** One ZMQ message as published: [topic, 8-byte big-endian sequence, msgpack payload]. */
export interface KvEventFrame {
  readonly topic: string;
  /** Per-publisher sequence, from 0; restarts at 0 when the engine restarts. */
  readonly seq: bigint;
  readonly batch: KvEventBatch;
}

/** The sequence value vLLM's replay socket sends to mark the end of a replay (-1 as u64). */
export const END_SEQ = 0xffff_ffff_ffff_ffffn;

/** One published batch as a publisher keeps it for replay and sends it back: its sequence number and payload. */
export interface ReplayEntry {
  readonly seq: bigint;
  /** The encoded batch exactly as it was published (frame 3). */
  readonly payload: Uint8Array;
}
