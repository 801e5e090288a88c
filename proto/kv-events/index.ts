/** vLLM's KV-cache event wire: plain types, the msgpack codec, and the sequence frame. */
export type {
  AllBlocksCleared,
  BlockRemoved,
  BlockStored,
  BlockStoredFields,
  ExternalBlockHash,
  KvCacheEvent,
  KvEventBatch,
  KvEventFrame,
  ReplayEntry,
} from './types.ts';
export { blockStored, END_SEQ } from './types.ts';
export { decodeKvEventBatch, type DecodedKvEventBatch } from './decode.ts';
export { encodeKvEventBatch, KV_EVENT_SHAPES, type KvEventShape } from './encode.ts';
export { offsetEndpointPort } from './endpoint.ts';
export { decodeSeq, encodeSeq, SEQ_FRAME_BYTES } from './seq-frame.ts';
export { codecFail, codecOk, type CodecError, type CodecResult } from './result.ts';
