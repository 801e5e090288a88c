import { Decoder } from '@msgpack/msgpack';
import { readEvent } from './decode-event.ts';
import { CodecFault, describe, isMap, readInt, readNumber } from './decode-fields.ts';
import { type CodecResult, codecFail, codecOk } from './result.ts';
import type { KvCacheEvent, KvEventBatch } from './types.ts';

export interface DecodedKvEventBatch {
  readonly batch: KvEventBatch;
  /**
   * Tags of events this decoder does not know (a newer engine's event kinds), skipped in order.
   * Non-string tags appear as `<an integer>` etc.; a map event without "type" as `<missing>`.
   */
  readonly unknownEventTags: readonly string[];
}

/**
 * Reads frame 3 of a KV-event message in any shape vLLM (or SGLang) has published:
 * - outer batch as a positional array of 2 (before dp_rank) or 3+ elements, or as a map
 *   {ts, events, data_parallel_rank};
 * - each event as a positional array with its tag first (5..12+ elements for BlockStored, extra
 *   trailing elements ignored, missing trailing optionals null), or as a map tagged by "type"
 *   (unknown keys ignored, missing optional keys null);
 * - block hashes as integers of any width and sign (always returned as bigint) or as byte
 *   strings (returned as a fresh Uint8Array).
 * Unknown event tags are skipped and listed. Anything else malformed is an error result; this
 * function never throws. It does not check len(token_ids) == block_size * len(block_hashes):
 * that is the consumer's contract to enforce.
 */
export function decodeKvEventBatch(payload: Uint8Array): CodecResult<DecodedKvEventBatch> {
  let root: unknown;
  try {
    // Every element takes at least one byte, so no honest length exceeds the payload's.
    const limit = Math.max(16, payload.byteLength);
    const decoder = new Decoder({
      useBigInt64: true,
      maxArrayLength: limit,
      maxMapLength: limit,
      maxStrLength: limit,
      maxBinLength: limit,
      maxExtLength: limit,
    });
    root = decoder.decode(payload);
  } catch (error) {
    return codecFail(`not a msgpack value: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return codecOk(readBatch(root));
  } catch (error) {
    if (error instanceof CodecFault) return codecFail(error.message, error.path);
    return codecFail(`cannot decode KV-event batch: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function readBatch(root: unknown): DecodedKvEventBatch {
  let tsRaw: unknown;
  let eventsRaw: unknown;
  let rankRaw: unknown;
  if (Array.isArray(root)) {
    if (root.length < 2)
      throw new CodecFault(
        `batch array has ${root.length} elements, expected [ts, events] or [ts, events, dp_rank]`,
        '',
      );
    [tsRaw, eventsRaw, rankRaw] = root;
  } else if (isMap(root)) {
    tsRaw = root.ts;
    eventsRaw = root.events;
    rankRaw = root.data_parallel_rank;
  } else {
    throw new CodecFault(`batch must be an array or a map, got ${describe(root)}`, '');
  }
  const ts = readNumber(tsRaw, 'ts');
  if (!Array.isArray(eventsRaw)) throw new CodecFault(`events must be an array, got ${describe(eventsRaw)}`, 'events');
  const dataParallelRank = rankRaw === undefined || rankRaw === null ? null : readInt(rankRaw, 'data_parallel_rank');
  const events: KvCacheEvent[] = [];
  const unknownEventTags: string[] = [];
  eventsRaw.forEach((raw: unknown, i: number) => {
    const read = readEvent(raw, `events[${i}]`);
    if (read.kind === 'event') events.push(read.event);
    else unknownEventTags.push(read.tag);
  });
  return { batch: { ts, events, dataParallelRank }, unknownEventTags };
}
