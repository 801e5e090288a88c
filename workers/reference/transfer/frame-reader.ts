import { fail, ok, TandemError, type Result } from '../../../common/errors.ts';

/**
 * Splits a byte stream into frame bodies (`u32 bodyLength | body`, big-endian length). Bodies
 * longer than `maxBodyBytes` or empty are a protocol error, so a garbage length cannot make the
 * reader buffer without bound. Returned bodies are views that stay valid (never overwritten).
 */
export interface FrameReader {
  /** Adds bytes; returns the complete frame bodies they finish, or the first framing error. */
  push(chunk: Buffer): Result<Buffer[]>;
  /** Bytes received but not yet part of a complete frame (a non-zero value at EOF is a short read). */
  pendingBytes(): number;
}

export function createFrameReader(maxBodyBytes: number): FrameReader {
  let pending: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const bodies: Buffer[] = [];
      let at = 0;
      while (pending.length - at >= 4) {
        const length = pending.readUInt32BE(at);
        if (length === 0 || length > maxBodyBytes) {
          return fail(
            new TandemError('upstream_error', `KV block frame of ${length} bytes is outside 1..${maxBodyBytes}`),
          );
        }
        if (pending.length - at - 4 < length) break;
        bodies.push(pending.subarray(at + 4, at + 4 + length));
        at += 4 + length;
      }
      pending = pending.subarray(at);
      return ok(bodies);
    },
    pendingBytes: () => pending.length,
  };
}
