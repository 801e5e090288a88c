import { fail, ok, TandemError, type Result } from '../../../common/errors.ts';
import type { KvBlockLayout } from '../kv/layout.ts';

/**
 * The KV block protocol (version 1) spoken between a decode worker (client) and a prefill
 * worker's block server, standing in for a NIXL READ plus its completion notification.
 *
 * Every message is one frame: `u32 bodyLength | body`, where body = `u8 type | fields`. All
 * integers are big-endian; a string is `u16 byteLength | UTF-8 bytes`; block bytes are raw
 * little-endian float32 exactly as the pool stores them. A connection carries any number of
 * request/answer exchanges in order; `tag` is the client's number for a request, echoed on
 * every frame that answers it.
 *
 *   READ     0x01  tag u32 | layout | remoteRequestId str | count u32 | count x blockId u32
 *   RELEASE  0x02  tag u32 | remoteRequestId str
 *   BLOCK    0x81  tag u32 | index u32 | blockId u32 | layout.blockBytes raw bytes
 *   DONE     0x82  tag u32 | count u32                       (after `count` BLOCK frames)
 *   RELEASED 0x83  tag u32 | wasHeld u8
 *   ERROR    0xFF  tag u32 | code u8 | message str           (ends that request; see ErrorCode)
 *
 *   layout = numLayers u16 | numKvHeads u16 | headDim u16 | blockSize u16 | dtype u8 (1 = float32)
 *            | blockBytes u32                                 (13 bytes)
 *
 * A READ is answered by one BLOCK per requested id, in request order (index 0..count-1), then
 * DONE; or by an ERROR at any point (blocks already sent are then void). The server sends a
 * block only if its layout equals the request's and the block is held for remoteRequestId at
 * the moment it is copied. A malformed frame is answered with ERROR (tag 0 when unknown) and the
 * connection is closed.
 */

export const FRAME_TYPE = {
  read: 0x01,
  release: 0x02,
  block: 0x81,
  done: 0x82,
  released: 0x83,
  error: 0xff,
} as const;

/** Error codes carried in ERROR frames. */
export const WIRE_ERROR = {
  /** The request id holds nothing, or a requested block is not held for it. */
  notHeld: 1,
  /** A block id outside the server's pool. */
  badBlockId: 2,
  /** The request's layout differs from the server's. */
  layoutMismatch: 3,
  /** The frame could not be parsed; the connection is closed. */
  malformed: 4,
  /** The server does not take release notifications. */
  unsupported: 5,
  internal: 6,
} as const;
export type WireErrorCode = (typeof WIRE_ERROR)[keyof typeof WIRE_ERROR];

export interface WireLayout {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  /** 1 = float32, the only dtype version 1 defines. */
  readonly dtype: number;
  readonly blockBytes: number;
}

export const DTYPE_FLOAT32 = 1;

export function wireLayoutOf(layout: KvBlockLayout): WireLayout {
  return {
    numLayers: layout.numLayers,
    numKvHeads: layout.numKvHeads,
    headDim: layout.headDim,
    blockSize: layout.blockSize,
    dtype: DTYPE_FLOAT32,
    blockBytes: layout.blockBytes,
  };
}

export function describeWireLayout(l: WireLayout): string {
  return `${l.numLayers} layers x ${l.numKvHeads} KV heads x head dim ${l.headDim}, ${l.blockSize} tokens/block, dtype ${l.dtype}, ${l.blockBytes} bytes`;
}
const LAYOUT_BYTES = 13;
/** Largest request body a server parses: a READ of 65,536 block ids and a long request id. */
export const MAX_REQUEST_BODY_BYTES = 1 + 4 + LAYOUT_BYTES + 2 + 65_535 + 4 + 4 * 65_536;

export type ClientMessage =
  | {
      readonly type: 'read';
      readonly tag: number;
      readonly layout: WireLayout;
      readonly remoteRequestId: string;
      readonly blockIds: readonly number[];
    }
  | { readonly type: 'release'; readonly tag: number; readonly remoteRequestId: string };

export type ServerMessage =
  | {
      readonly type: 'block';
      readonly tag: number;
      readonly index: number;
      readonly blockId: number;
      readonly bytes: Uint8Array;
    }
  | { readonly type: 'done'; readonly tag: number; readonly count: number }
  | { readonly type: 'released'; readonly tag: number; readonly wasHeld: boolean }
  | { readonly type: 'error'; readonly tag: number; readonly code: number; readonly message: string };

// ---- encoding (trusted: our own values) ----

export function encodeRead(
  tag: number,
  layout: WireLayout,
  remoteRequestId: string,
  blockIds: readonly number[],
): Buffer {
  const id = Buffer.from(remoteRequestId, 'utf8');
  const body = Buffer.alloc(1 + 4 + LAYOUT_BYTES + 2 + id.length + 4 + 4 * blockIds.length);
  let at = body.writeUInt8(FRAME_TYPE.read, 0);
  at = body.writeUInt32BE(tag, at);
  at = writeLayout(body, at, layout);
  at = writeString(body, at, id);
  at = body.writeUInt32BE(blockIds.length, at);
  for (const blockId of blockIds) at = body.writeUInt32BE(blockId, at);
  return frame(body);
}

export function encodeRelease(tag: number, remoteRequestId: string): Buffer {
  const id = Buffer.from(remoteRequestId, 'utf8');
  const body = Buffer.alloc(1 + 4 + 2 + id.length);
  let at = body.writeUInt8(FRAME_TYPE.release, 0);
  at = body.writeUInt32BE(tag, at);
  writeString(body, at, id);
  return frame(body);
}

/** The BLOCK frame's prefix (length, type, tag, index, id); the block's bytes follow it. */
export function encodeBlockHeader(tag: number, index: number, blockId: number, blockBytes: number): Buffer {
  const header = Buffer.alloc(4 + 1 + 12);
  header.writeUInt32BE(1 + 12 + blockBytes, 0);
  header.writeUInt8(FRAME_TYPE.block, 4);
  header.writeUInt32BE(tag, 5);
  header.writeUInt32BE(index, 9);
  header.writeUInt32BE(blockId, 13);
  return header;
}

export function encodeDone(tag: number, count: number): Buffer {
  const body = Buffer.alloc(9);
  body.writeUInt8(FRAME_TYPE.done, 0);
  body.writeUInt32BE(tag, 1);
  body.writeUInt32BE(count, 5);
  return frame(body);
}

export function encodeReleased(tag: number, wasHeld: boolean): Buffer {
  const body = Buffer.alloc(6);
  body.writeUInt8(FRAME_TYPE.released, 0);
  body.writeUInt32BE(tag, 1);
  body.writeUInt8(wasHeld ? 1 : 0, 5);
  return frame(body);
}

export function encodeError(tag: number, code: WireErrorCode, message: string): Buffer {
  // Messages are for people; cap them so an ERROR frame stays small.
  const text = Buffer.from(message.slice(0, 1000), 'utf8');
  const body = Buffer.alloc(1 + 4 + 1 + 2 + text.length);
  let at = body.writeUInt8(FRAME_TYPE.error, 0);
  at = body.writeUInt32BE(tag, at);
  at = body.writeUInt8(code, at);
  writeString(body, at, text);
  return frame(body);
}

function frame(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

function writeLayout(buffer: Buffer, at: number, layout: WireLayout): number {
  at = buffer.writeUInt16BE(layout.numLayers, at);
  at = buffer.writeUInt16BE(layout.numKvHeads, at);
  at = buffer.writeUInt16BE(layout.headDim, at);
  at = buffer.writeUInt16BE(layout.blockSize, at);
  at = buffer.writeUInt8(layout.dtype, at);
  return buffer.writeUInt32BE(layout.blockBytes, at);
}

function writeString(buffer: Buffer, at: number, bytes: Buffer): number {
  if (bytes.length > 0xffff)
    throw new TandemError('invalid_request', `string of ${bytes.length} bytes is too long for the KV block protocol`);
  at = buffer.writeUInt16BE(bytes.length, at);
  return at + bytes.copy(buffer, at);
}

// ---- decoding (untrusted: returns Result) ----

/** Parses a frame body sent by a client. */
export function decodeClientMessage(body: Buffer): Result<ClientMessage> {
  const r = cursor(body);
  const type = r.u8();
  const tag = r.u32();
  if (type === FRAME_TYPE.read) {
    const layout = readLayout(r);
    const remoteRequestId = r.str();
    const count = r.u32();
    if (r.failed || count > (body.length - r.at) / 4) return malformed(`READ of ${count} block ids is truncated`);
    const blockIds: number[] = new Array<number>(count);
    for (let i = 0; i < count; i++) blockIds[i] = r.u32();
    return r.end({ type: 'read', tag, layout, remoteRequestId, blockIds });
  }
  if (type === FRAME_TYPE.release) {
    const remoteRequestId = r.str();
    return r.end({ type: 'release', tag, remoteRequestId });
  }
  return malformed(`unknown client frame type 0x${type.toString(16)}`);
}

/** Parses a frame body sent by a server; BLOCK bytes are a view into `body`. */
export function decodeServerMessage(body: Buffer, blockBytes: number): Result<ServerMessage> {
  const r = cursor(body);
  const type = r.u8();
  const tag = r.u32();
  switch (type) {
    case FRAME_TYPE.block: {
      const index = r.u32();
      const blockId = r.u32();
      if (r.failed || body.length - r.at !== blockBytes) {
        return malformed(`BLOCK frame carries ${Math.max(0, body.length - r.at)} bytes, the layout says ${blockBytes}`);
      }
      return ok({ type: 'block', tag, index, blockId, bytes: body.subarray(r.at) });
    }
    case FRAME_TYPE.done:
      return r.end({ type: 'done', tag, count: r.u32() });
    case FRAME_TYPE.released:
      return r.end({ type: 'released', tag, wasHeld: r.u8() === 1 });
    case FRAME_TYPE.error: {
      const code = r.u8();
      const message = r.str();
      return r.end({ type: 'error', tag, code, message });
    }
    default:
      return malformed(`unknown server frame type 0x${type.toString(16)}`);
  }
}

function readLayout(r: Cursor): WireLayout {
  return {
    numLayers: r.u16(),
    numKvHeads: r.u16(),
    headDim: r.u16(),
    blockSize: r.u16(),
    dtype: r.u8(),
    blockBytes: r.u32(),
  };
}

function malformed(message: string): Result<never> {
  return fail(new TandemError('upstream_error', `malformed KV block frame: ${message}`));
}

interface Cursor {
  at: number;
  failed: boolean;
  u8(): number;
  u16(): number;
  u32(): number;
  str(): string;
  /** ok(value) when every byte was consumed and nothing ran past the end. */
  end<T>(value: T): Result<T>;
}

/** Reads fields in order; running past the end sets `failed` and yields zeros. */
function cursor(body: Buffer): Cursor {
  const c: Cursor = {
    at: 0,
    failed: false,
    u8: () => take(1, (at) => body.readUInt8(at)),
    u16: () => take(2, (at) => body.readUInt16BE(at)),
    u32: () => take(4, (at) => body.readUInt32BE(at)),
    str() {
      const length = c.u16();
      return take(length, (at) => body.toString('utf8', at, at + length), '');
    },
    end(value) {
      if (c.failed) return malformed('frame is shorter than its fields');
      if (c.at !== body.length) return malformed(`${body.length - c.at} unexpected bytes after the fields`);
      return ok(value);
    },
  };
  function take<T>(size: number, read: (at: number) => T, empty?: T): T {
    if (c.failed || c.at + size > body.length) {
      c.failed = true;
      return (empty ?? 0) as T;
    }
    const value = read(c.at);
    c.at += size;
    return value;
  }
  return c;
}
