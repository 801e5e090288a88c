import { describe, expect, it } from 'vitest';
import { createFrameReader } from './frame-reader.ts';
import {
  decodeClientMessage,
  decodeServerMessage,
  encodeBlockHeader,
  encodeDone,
  encodeError,
  encodeRead,
  encodeRelease,
  encodeReleased,
  WIRE_ERROR,
  type WireLayout,
} from './protocol.ts';

const layout: WireLayout = { numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 16, dtype: 1, blockBytes: 6144 };
const bodyOf = (frame: Buffer) => {
  expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
  return frame.subarray(4);
};

describe('KV block protocol', () => {
  it('round-trips a read request with its layout, request id and block ids', () => {
    const frame = encodeRead(7, layout, 'cmpl-é-42', [5, 0, 4294967295]);
    expect(decodeClientMessage(bodyOf(frame))).toEqual({
      ok: true,
      value: { type: 'read', tag: 7, layout, remoteRequestId: 'cmpl-é-42', blockIds: [5, 0, 4294967295] },
    });
  });

  it('lays a read request out byte for byte as documented', () => {
    const frame = encodeRead(1, layout, 'r', [9]);
    expect(frame.toString('hex')).toBe(
      '0000001d' +
        '01' +
        '00000001' +
        '0003' +
        '0002' +
        '0008' +
        '0010' +
        '01' +
        '00001800' +
        '0001' +
        '72' +
        '00000001' +
        '00000009',
    );
  });

  it('round-trips release, block, done, released and error frames', () => {
    expect(decodeClientMessage(bodyOf(encodeRelease(3, 'abc')))).toEqual({
      ok: true,
      value: { type: 'release', tag: 3, remoteRequestId: 'abc' },
    });
    const bytes = Buffer.alloc(6144, 0xab);
    const block = Buffer.concat([encodeBlockHeader(2, 1, 77, 6144), bytes]);
    const decoded = decodeServerMessage(bodyOf(block), 6144);
    expect(
      decoded.ok &&
        decoded.value.type === 'block' && [
          decoded.value.tag,
          decoded.value.index,
          decoded.value.blockId,
          Buffer.from(decoded.value.bytes).equals(bytes),
        ],
    ).toEqual([2, 1, 77, true]);
    expect(decodeServerMessage(bodyOf(encodeDone(2, 5)), 6144)).toEqual({
      ok: true,
      value: { type: 'done', tag: 2, count: 5 },
    });
    expect(decodeServerMessage(bodyOf(encodeReleased(4, true)), 6144)).toEqual({
      ok: true,
      value: { type: 'released', tag: 4, wasHeld: true },
    });
    expect(decodeServerMessage(bodyOf(encodeError(4, WIRE_ERROR.notHeld, 'gone')), 6144)).toEqual({
      ok: true,
      value: { type: 'error', tag: 4, code: 1, message: 'gone' },
    });
  });

  it('rejects truncated, padded, unknown and wrongly sized frames as results, never throwing', () => {
    const read = bodyOf(encodeRead(1, layout, 'r', [1, 2, 3]));
    expect(decodeClientMessage(read.subarray(0, read.length - 2)).ok).toBe(false);
    expect(decodeClientMessage(Buffer.concat([read, Buffer.from([0])])).ok).toBe(false);
    expect(decodeClientMessage(Buffer.from([0x01])).ok).toBe(false);
    expect(decodeClientMessage(Buffer.from([0x55, 0, 0, 0, 1])).ok).toBe(false);
    // A READ claiming far more ids than its bytes hold.
    const lying = Buffer.from(read);
    lying.writeUInt32BE(1_000_000, lying.length - 16);
    expect(decodeClientMessage(lying)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/truncated/) },
    });
    const shortBlock = Buffer.concat([encodeBlockHeader(1, 0, 0, 6140), Buffer.alloc(6140)]);
    expect(decodeServerMessage(bodyOf(shortBlock), 6144)).toMatchObject({
      ok: false,
      error: { message: expect.stringMatching(/6140 bytes, the layout says 6144/) },
    });
    expect(decodeServerMessage(Buffer.from([0x82, 0, 0, 0, 1]), 6144).ok).toBe(false);
  });
});

describe('frame reader', () => {
  it('reassembles frames split at every byte and several frames in one chunk', () => {
    const frames = Buffer.concat([encodeDone(1, 2), encodeRelease(5, 'xyz'), encodeDone(3, 4)]);
    const reader = createFrameReader(1024);
    const bodies: Buffer[] = [];
    for (let i = 0; i < frames.length; i++) {
      const result = reader.push(frames.subarray(i, i + 1));
      expect(result.ok).toBe(true);
      if (result.ok) bodies.push(...result.value);
    }
    expect(bodies.map((b) => b.toString('hex'))).toEqual(
      [bodyOf(encodeDone(1, 2)), bodyOf(encodeRelease(5, 'xyz')), bodyOf(encodeDone(3, 4))].map((b) =>
        b.toString('hex'),
      ),
    );
    expect(reader.pendingBytes()).toBe(0);
    const all = createFrameReader(1024).push(frames);
    expect(all.ok && all.value.length).toBe(3);
  });

  it('keeps a partial frame pending and refuses empty or oversized lengths', () => {
    const reader = createFrameReader(100);
    expect(reader.push(encodeDone(1, 1).subarray(0, 6))).toEqual({ ok: true, value: [] });
    expect(reader.pendingBytes()).toBe(6);
    expect(createFrameReader(100).push(Buffer.from([0, 0, 0, 101])).ok).toBe(false);
    expect(createFrameReader(100).push(Buffer.from([0, 0, 0, 0])).ok).toBe(false);
  });
});
