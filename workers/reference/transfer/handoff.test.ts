import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { KvHandoffSchema, KvTransport } from '../../../proto/gen/tandem/v1/worker_pb.ts';
import { createKvBlockLayout } from '../kv/index.ts';
import { createTcpKvHandoff, parseTcpKvHandoff } from './handoff.ts';

const layout = createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 16 });
const input = {
  engineId: 'engine-a',
  requestId: 'req-1',
  host: '10.0.0.7',
  port: 7100,
  blockIds: [4, 9, 2],
  numTokens: 40,
  layout,
  expiresAtUnixMs: 1_700_000_480_000,
};

describe('TCP KV handoff', () => {
  it('describes held blocks as a KvHandoff that survives the wire and parses back into a pull plan', () => {
    const handoff = fromBinary(KvHandoffSchema, toBinary(KvHandoffSchema, createTcpKvHandoff(input)));
    expect(handoff).toMatchObject({
      transport: KvTransport.TCP,
      remoteEngineId: 'engine-a',
      remoteRequestId: 'req-1',
      blockSize: 16,
      numTokens: 40,
      tpSize: 1,
    });
    expect(handoff.layout).toMatchObject({
      numLayers: 3,
      numKvHeads: 2,
      headDim: 8,
      dtype: 'float32',
      blockBytes: 6144,
    });
    expect(parseTcpKvHandoff(handoff, layout)).toEqual({
      ok: true,
      value: {
        host: '10.0.0.7',
        port: 7100,
        remoteEngineId: 'engine-a',
        remoteRequestId: 'req-1',
        blockIds: [4, 9, 2],
        numTokens: 40,
        blockSize: 16,
      },
    });
  });

  it('refuses handoffs the decode side cannot pull, before any byte moves', () => {
    const base = createTcpKvHandoff(input);
    const cases: Array<[string, (h: typeof base) => void, RegExp]> = [
      ['another transport', (h) => (h.transport = KvTransport.NIXL), /transport is NIXL/],
      ['no port', (h) => (h.port = 0), /bad address/],
      ['no request id', (h) => (h.remoteRequestId = ''), /no remote_request_id/],
      ['two groups', (h) => h.blockGroups.push(h.blockGroups[0]!), /2 block groups/],
      ['another block size', (h) => (h.blockSize = 32), /block size 32/],
      ['another layout', (h) => (h.layout!.numKvHeads = 4), /layout .* differs/],
      ['no layout', (h) => (h.layout = undefined), /layout none/],
      ['too few blocks', (h) => (h.numTokens = 49), /3 blocks for 49 tokens/],
      ['too many blocks', (h) => (h.numTokens = 32), /3 blocks for 32 tokens/],
    ];
    for (const [name, mutate, message] of cases) {
      const handoff = create(KvHandoffSchema, structuredClone(base));
      mutate(handoff);
      const parsed = parseTcpKvHandoff(handoff, layout);
      expect(parsed.ok, name).toBe(false);
      if (!parsed.ok) {
        expect(parsed.error.reason, name).toBe('invalid_handoff');
        expect(parsed.error.message, name).toMatch(message);
      }
    }
  });
});
