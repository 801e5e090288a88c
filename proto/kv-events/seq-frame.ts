import { type CodecResult, codecFail, codecOk } from './result.ts';

/**
 * The second frame of every KV-event message and of every replay request and reply: a
 * sequence number as 8 bytes, big-endian, unsigned (vLLM's `seq.to_bytes(8, "big")`).
 * END_SEQ (all ones, -1 as a signed int64) marks the end of a replay.
 */
export const SEQ_FRAME_BYTES = 8;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** Encodes 0 <= seq <= 2^64-1; throws RangeError outside that range (a programming error). */
export function encodeSeq(seq: bigint): Uint8Array {
  if (seq < 0n || seq > U64_MAX) throw new RangeError(`sequence ${seq} is outside 0..2^64-1`);
  const frame = new Uint8Array(SEQ_FRAME_BYTES);
  new DataView(frame.buffer).setBigUint64(0, seq, false);
  return frame;
}

/** Reads a sequence frame; anything but exactly 8 bytes is an error. */
export function decodeSeq(frame: Uint8Array): CodecResult<bigint> {
  if (frame.byteLength !== SEQ_FRAME_BYTES)
    return codecFail(`sequence frame must be ${SEQ_FRAME_BYTES} bytes, got ${frame.byteLength}`);
  return codecOk(new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(0, false));
}
