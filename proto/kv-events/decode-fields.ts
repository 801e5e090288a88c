import type { ExternalBlockHash } from './types.ts';

/**
 * Readers for one decoded msgpack value each, shared by the batch and event decoders. They throw
 * CodecFault (caught by decodeKvEventBatch and turned into an error result, never escaping it).
 * Integers arrive as number (compact encodings) or bigint (the 0xcf / 0xd3 64-bit encodings).
 */
export class CodecFault extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(path ? `${path}: ${message}` : message);
  }
}

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a float';
  if (typeof value === 'number' || typeof value === 'bigint') return 'an integer';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

/** Any integer or float, as a JS number (ts: seconds since the epoch). */
export function readNumber(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new CodecFault(`expected a number, got ${describe(value)}`, path);
}

/** An integer that fits a JS number exactly (token ids, sizes, ranks, indexes). */
export function readInt(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER))
    return Number(value);
  throw new CodecFault(`expected an integer within +-2^53, got ${describe(value)}`, path);
}

export function readOptInt(value: unknown, path: string): number | null {
  return value === null || value === undefined ? null : readInt(value, path);
}

export function readOptString(value: unknown, path: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  throw new CodecFault(`expected a string or nil, got ${describe(value)}`, path);
}

/**
 * A block hash: an integer of any width and sign, always as bigint (never rounded through a JS
 * number), or a byte string, copied out of the message buffer.
 */
export function readHash(value: unknown, path: string): ExternalBlockHash {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (value instanceof Uint8Array) return value.slice();
  throw new CodecFault(`expected an integer or bytes hash, got ${describe(value)}`, path);
}

export function readOptHash(value: unknown, path: string): ExternalBlockHash | null {
  return value === null || value === undefined ? null : readHash(value, path);
}

export function readHashes(value: unknown, path: string): ExternalBlockHash[] {
  if (!Array.isArray(value)) throw new CodecFault(`expected an array of hashes, got ${describe(value)}`, path);
  const out = new Array<ExternalBlockHash>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    out[i] = typeof item === 'bigint' ? item : readHash(item, `${path}[${i}]`);
  }
  return out;
}

export function readInts(value: unknown, path: string): number[] {
  if (!Array.isArray(value)) throw new CodecFault(`expected an array of integers, got ${describe(value)}`, path);
  // Token ids run to thousands per batch: the element path is built only on failure.
  const out = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    out[i] = typeof item === 'number' && Number.isSafeInteger(item) ? item : readInt(item, `${path}[${i}]`);
  }
  return out;
}
