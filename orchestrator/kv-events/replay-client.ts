import { Dealer } from 'zeromq';
import type { Clock } from '../../common/clock.ts';
import { decodeSeq, encodeSeq, END_SEQ } from '../../proto/kv-events/index.ts';
import type { ReplayEntry, ReplayOutcome } from './sequencer.ts';

export interface ReplayRequest {
  /** The publisher's ROUTER endpoint (vLLM's replay_endpoint, as seen from here). */
  readonly endpoint: string;
  /** First sequence wanted; the publisher sends every buffered batch with seq >= start. */
  readonly start: bigint;
  /** Give up (returning what arrived, complete: false) after this long, milliseconds. */
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Aborting closes the socket at once (the subscriber is closing). */
  readonly signal?: AbortSignal;
}

const EMPTY = new Uint8Array();

/**
 * One replay over a fresh DEALER (so a late answer to an abandoned request can never be read as
 * the answer to the next): sends ["", start], reads ["", seq, payload] replies until END_SEQ or
 * the deadline. Malformed replies are skipped. Never throws.
 */
export async function requestReplay(request: ReplayRequest): Promise<ReplayOutcome> {
  const deadline = request.clock.now() + request.timeoutMs;
  const remaining = () => Math.max(1, Math.round(deadline - request.clock.now()));
  // receiveHighWaterMark 0: never stop reading mid-replay (a full ring is 10k messages).
  const dealer = new Dealer({ linger: 0, receiveHighWaterMark: 0, sendTimeout: remaining() });
  const entries: ReplayEntry[] = [];
  const abort = () => dealer.close();
  request.signal?.addEventListener('abort', abort, { once: true });
  try {
    if (request.signal?.aborted) return { entries, complete: false };
    dealer.connect(request.endpoint);
    await dealer.send([EMPTY, encodeSeq(request.start)]);
    for (;;) {
      if (request.clock.now() >= deadline) return { entries, complete: false };
      dealer.receiveTimeout = remaining();
      const frames = await dealer.receive();
      const [delimiter, seqFrame, payload] = frames;
      if (frames.length !== 3 || delimiter?.length !== 0 || !seqFrame || !payload) continue;
      const seq = decodeSeq(seqFrame);
      if (!seq.ok) continue;
      if (seq.value === END_SEQ) return { entries, complete: true };
      entries.push({ seq: seq.value, payload });
    }
  } catch {
    // Timeout (EAGAIN), refused send, or a closed context: what arrived is all there is.
    return { entries, complete: false };
  } finally {
    request.signal?.removeEventListener('abort', abort);
    dealer.close();
  }
}
