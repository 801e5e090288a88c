import type { Logger } from '../../common/log.ts';
import { decodeSeq, encodeSeq, END_SEQ } from '../../proto/kv-events/index.ts';
import type { Router } from 'zeromq';
import type { ReplayRing } from './replay-ring.ts';

export interface ReplayServerStats {
  /** Well-formed requests answered. */
  requests: number;
  /** Batches sent in answer to them (not counting END_SEQ markers). */
  replayedBatches: number;
  /** Requests that were not exactly [identity, "", 8-byte start]; ignored, as vLLM does. */
  invalidRequests: number;
}

const EMPTY = new Uint8Array();
const END_FRAME = encodeSeq(END_SEQ);

/**
 * Answers replay requests on a bound ROUTER until it closes, exactly as vLLM's publisher does:
 * a request is the 3 frames [identity, "", start_seq]; the reply is [identity, "", seq, payload]
 * for every buffered batch with seq >= start, then [identity, "", END_SEQ, ""]. The ring is read
 * as a snapshot when the request arrives. Resolves when the socket is closed.
 */
export async function serveReplays(
  router: Router,
  ring: ReplayRing,
  stats: ReplayServerStats,
  logger: Logger,
): Promise<void> {
  try {
    for await (const frames of router) {
      const [identity, delimiter, startFrame] = frames;
      const start = frames.length === 3 && delimiter?.length === 0 && startFrame ? decodeSeq(startFrame) : undefined;
      if (!identity || !start?.ok) {
        stats.invalidRequests++;
        logger.warn({ frames: frames.length }, 'Invalid replay request');
        continue;
      }
      stats.requests++;
      const entries = ring.from(start.value);
      try {
        for (const entry of entries) {
          await router.send([identity, EMPTY, encodeSeq(entry.seq), entry.payload]);
          stats.replayedBatches++;
        }
        await router.send([identity, EMPTY, END_FRAME, EMPTY]);
      } catch (error) {
        if (router.closed) return;
        logger.warn({ err: error }, 'replay reply failed');
      }
      logger.debug({ start: start.value.toString(), batches: entries.length }, 'replayed KV events');
    }
  } catch (error) {
    // The iterator throws when the socket is closed under it; anything else is worth a line.
    if (!router.closed) logger.error({ err: error }, 'replay socket failed');
  }
}
