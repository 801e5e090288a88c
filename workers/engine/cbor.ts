/**
 * A minimal canonical CBOR encoder (RFC 8949 section 4.2.1 "core deterministic encoding": the
 * shortest head for every integer and length, definite lengths only), enough to reproduce
 * Python's `cbor2.dumps(x, canonical=True)` for the values vLLM hashes: unsigned and negative
 * integers, byte strings, text strings, arrays (tuples), null and booleans. Maps and floats
 * are not needed by the block hash and are rejected.
 */
export type CborValue = number | bigint | string | Uint8Array | boolean | null | readonly CborValue[];

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;

/**
 * Appends CBOR items to one growable buffer. `reset()` lets a hot loop reuse the buffer;
 * `view()` is valid until the next write or reset.
 */
export class CborWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(initialBytes = 256) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  reset(): this {
    this.length = 0;
    return this;
  }

  /** The bytes written since the last reset (a view, not a copy). */
  view(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** A non-negative integer up to 2^64 - 1 (a number must be a safe integer). */
  uint(value: number | bigint): this {
    return this.head(MAJOR_UNSIGNED, value);
  }

  /**
   * A run of unsigned integers below 2^32 (token ids), written without per-item checks beyond
   * range; the hot path of the block hash. Items must be non-negative integers.
   */
  uints(values: ArrayLike<number>, start: number, end: number): this {
    this.ensure(5 * (end - start));
    const b = this.buffer;
    let at = this.length;
    for (let i = start; i < end; i++) {
      const v = values[i]!;
      if (v < 24) {
        b[at++] = v;
      } else if (v < 0x100) {
        b[at++] = 24;
        b[at++] = v;
      } else if (v < 0x1_0000) {
        b[at++] = 25;
        b[at++] = v >>> 8;
        b[at++] = v & 0xff;
      } else if (v < 0x1_0000_0000) {
        b[at++] = 26;
        b[at++] = v >>> 24;
        b[at++] = (v >>> 16) & 0xff;
        b[at++] = (v >>> 8) & 0xff;
        b[at++] = v & 0xff;
      } else {
        this.length = at;
        this.uint(v);
        at = this.length;
      }
    }
    this.length = at;
    return this;
  }

  /** Any integer in [-2^64, 2^64 - 1]. */
  int(value: number | bigint): this {
    if (typeof value === 'bigint' ? value >= 0n : value >= 0) return this.head(MAJOR_UNSIGNED, value);
    // CBOR stores a negative n as -1 - n.
    return this.head(MAJOR_NEGATIVE, typeof value === 'bigint' ? -1n - value : -1 - value);
  }

  bytes(value: Uint8Array): this {
    this.head(MAJOR_BYTES, value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /** A byte string given as a latin1 string (one char per byte, as `Buffer#toString('latin1')` gives). */
  latin1Bytes(value: string): this {
    this.head(MAJOR_BYTES, value.length);
    this.ensure(value.length);
    this.length += this.buffer.write(value, this.length, 'latin1');
    return this;
  }

  text(value: string): this {
    const encoded = Buffer.from(value, 'utf8');
    this.head(MAJOR_TEXT, encoded.length);
    this.ensure(encoded.length);
    encoded.copy(this.buffer, this.length);
    this.length += encoded.length;
    return this;
  }

  /** The head of an array of `count` items; the caller writes the items next. */
  arrayHeader(count: number): this {
    return this.head(MAJOR_ARRAY, count);
  }

  null(): this {
    return this.byte(0xf6);
  }

  boolean(value: boolean): this {
    return this.byte(value ? 0xf5 : 0xf4);
  }

  /** Any supported value, recursively. */
  value(value: CborValue): this {
    if (value === null) return this.null();
    if (typeof value === 'boolean') return this.boolean(value);
    if (typeof value === 'string') return this.text(value);
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (typeof value === 'number' && !Number.isSafeInteger(value))
        throw new RangeError(`CBOR: only safe integers are supported, got ${value}`);
      return this.int(value);
    }
    if (value instanceof Uint8Array) return this.bytes(value);
    this.arrayHeader(value.length);
    for (const item of value) this.value(item);
    return this;
  }

  private head(major: number, argument: number | bigint): this {
    const top = major << 5;
    if (typeof argument === 'number' && argument >= 0 && argument < 24 && Number.isInteger(argument)) {
      this.ensure(1);
      this.buffer[this.length++] = top | argument;
      return this;
    }
    if (typeof argument === 'bigint') {
      if (argument < 0n || argument > 0xffff_ffff_ffff_ffffn)
        throw new RangeError(`CBOR: argument out of range: ${argument}`);
      if (argument > 0xffff_ffffn) {
        this.ensure(9);
        this.buffer[this.length] = top | 27;
        this.buffer.writeBigUInt64BE(argument, this.length + 1);
        this.length += 9;
        return this;
      }
      argument = Number(argument);
    }
    if (!Number.isSafeInteger(argument) || argument < 0)
      throw new RangeError(`CBOR: argument out of range: ${argument}`);
    this.ensure(9);
    const at = this.length;
    if (argument < 24) {
      this.buffer[at] = top | argument;
      this.length += 1;
    } else if (argument < 0x100) {
      this.buffer[at] = top | 24;
      this.buffer[at + 1] = argument;
      this.length += 2;
    } else if (argument < 0x1_0000) {
      this.buffer[at] = top | 25;
      this.buffer.writeUInt16BE(argument, at + 1);
      this.length += 3;
    } else if (argument < 0x1_0000_0000) {
      this.buffer[at] = top | 26;
      this.buffer.writeUInt32BE(argument, at + 1);
      this.length += 5;
    } else {
      this.buffer[at] = top | 27;
      this.buffer.writeBigUInt64BE(BigInt(argument), at + 1);
      this.length += 9;
    }
    return this;
  }

  private byte(value: number): this {
    this.ensure(1);
    this.buffer[this.length++] = value;
    return this;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** The canonical CBOR encoding of `value`, as a fresh buffer. */
export function encodeCbor(value: CborValue): Buffer {
  return Buffer.from(new CborWriter().value(value).view());
}
