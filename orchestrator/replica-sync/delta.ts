import { TandemError, type Result } from '../../common/errors.ts';

/**
 * What one orchestrator process tells the others: the changes to its bookings and, in
 * approximate-index mode, the prompts it routed. The same message travels between the serving
 * processes of one machine (cluster IPC) and between replicas (NATS core): one type, one codec.
 *
 * Booking ids are the sender's own; a receiver keys them by (origin, id). Times never travel:
 * a receiver stamps what it applies with its own clock, so clock skew between machines does not
 * matter.
 */
export type SyncDelta =
  /** A request was routed to `worker`: prefill tokens still to compute, tokens; decode blocks it holds, blocks. */
  | {
      readonly k: 'book';
      readonly id: number;
      readonly worker: string;
      readonly prefillTokens: number;
      readonly decodeBlocks: number;
    }
  /** The booking's first token came: its prefill tokens are released. */
  | { readonly k: 'first'; readonly id: number }
  /** The stream ended (done, failed, cancelled): the booking is gone. */
  | { readonly k: 'release'; readonly id: number }
  /** The sender's booking expired (a lost stream). */
  | { readonly k: 'expired'; readonly id: number }
  /**
   * The booking's whole current state, sent while its stream runs: keeps it alive on receivers
   * and books it on one that never saw it (a late starter, or after a partition).
   */
  | {
      readonly k: 'touch';
      readonly id: number;
      readonly worker: string;
      readonly prefillTokens: number;
      readonly decodeBlocks: number;
    }
  /** Approximate mode: a prompt's chained block hashes routed to `worker` (`words`: base64 of the chain's little-endian uint32 words). */
  | {
      readonly k: 'routed';
      readonly worker: string;
      readonly blockSize: number;
      readonly blocks: number;
      readonly words: string;
    }
  /** The sender is stopping: drop its bookings now. */
  | { readonly k: 'bye' };

/** A batch of deltas from one process. An empty batch is a heartbeat. */
export interface SyncMessage {
  readonly v: 1;
  /** The sending process, unique over the fleet's life. */
  readonly origin: string;
  /** The sender's machine (its serving processes share one group): NATS receivers skip their own group, which IPC already carries. */
  readonly group: string;
  /** Per-origin sequence number, from 1. */
  readonly seq: number;
  readonly deltas: readonly SyncDelta[];
}

export function encodeSyncMessage(message: SyncMessage): string {
  return JSON.stringify(message);
}

const bad = (why: string): Result<SyncMessage> => ({
  ok: false,
  error: new TandemError('invalid_request', `replica-sync message: ${why}`),
});
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isName = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 512;

function validDelta(d: unknown): d is SyncDelta {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  switch (o['k']) {
    case 'book':
    case 'touch':
      return isCount(o['id']) && isName(o['worker']) && isCount(o['prefillTokens']) && isCount(o['decodeBlocks']);
    case 'first':
    case 'release':
    case 'expired':
      return isCount(o['id']);
    case 'routed':
      return (
        isName(o['worker']) &&
        isCount(o['blockSize']) &&
        o['blockSize'] > 0 &&
        isCount(o['blocks']) &&
        typeof o['words'] === 'string'
      );
    case 'bye':
      return true;
    default:
      return false;
  }
}

/** Parses one message; anything malformed (another version, a bad delta) is an error result, never a throw. */
export function decodeSyncMessage(text: string): Result<SyncMessage> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) return bad('not an object');
  const m = parsed as Record<string, unknown>;
  if (m['v'] !== 1) return bad(`unknown version ${String(m['v'])}`);
  if (!isName(m['origin']) || !isName(m['group'])) return bad('origin and group must be non-empty strings');
  if (!isCount(m['seq'])) return bad('seq must be a non-negative integer');
  const deltas = m['deltas'];
  if (!Array.isArray(deltas)) return bad('deltas must be an array');
  for (let i = 0; i < deltas.length; i++) if (!validDelta(deltas[i])) return bad(`deltas[${i}] is not a valid delta`);
  return { ok: true, value: parsed as SyncMessage };
}

/** A block-hash chain's words as base64 (little-endian), and back; null when the text does not hold `blocks` blocks. */
export function wordsToBase64(words: Uint32Array, blocks: number): string {
  const view = new Uint32Array(words.buffer, words.byteOffset, blocks * 2);
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

export function wordsFromBase64(text: string, blocks: number): Uint32Array | null {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength !== blocks * 8) return null;
  const words = new Uint32Array(blocks * 2);
  new Uint8Array(words.buffer).set(bytes);
  return words;
}
