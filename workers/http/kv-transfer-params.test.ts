import { describe, expect, it } from 'vitest';
import type { EngineInfo, KvHandoff } from '../engine/engine-api.ts';
import { handoffFromRemote, kvTransferParamsFor, readKvTransferParams } from './kv-transfer-params.ts';

const handoff: KvHandoff = {
  engineId: 'sim-a',
  handoffId: 'req-1-1',
  blockIds: [4, 5, 6],
  blockSize: 16,
  numTokens: 40,
  blockBytes: 1000,
  tpSize: 1,
  expiresAtMs: 1_700_000_480_000,
};
const info = { blockSize: 16, blockBytes: 2000 } as EngineInfo;

describe("vLLM's NIXL kv_transfer_params", () => {
  it('reads no params, or both flags false, as a plain request', () => {
    expect(readKvTransferParams(undefined)).toEqual({ mode: 'none' });
    expect(readKvTransferParams({ do_remote_decode: false, do_remote_prefill: false })).toEqual({ mode: 'none' });
  });

  it('reads do_remote_decode as prefill-only, whatever else is null', () => {
    expect(
      readKvTransferParams({
        do_remote_decode: true,
        do_remote_prefill: false,
        remote_engine_id: null,
        remote_block_ids: null,
      }),
    ).toEqual({ mode: 'prefill' });
  });

  it('round-trips what a prefill answers into a decode request', () => {
    const params = kvTransferParamsFor(handoff, { host: '10.0.0.5', port: 50051 });
    expect(params).toMatchObject({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: [[4, 5, 6]],
      remote_engine_id: 'sim-a',
      remote_request_id: 'req-1-1',
      remote_host: '10.0.0.5',
      remote_port: 50051,
      tp_size: 1,
    });
    const read = readKvTransferParams(JSON.parse(JSON.stringify(params)) as Record<string, unknown>);
    expect(read).toEqual({
      mode: 'decode',
      remote: {
        engineId: 'sim-a',
        requestId: 'req-1-1',
        blockIds: [4, 5, 6],
        host: '10.0.0.5',
        port: 50051,
        tpSize: 1,
        blockSize: 16,
        numTokens: 40,
        expiresAtMs: 1_700_000_480_000,
        transport: 'sim',
        layout: undefined,
      },
    });
    if (read.mode !== 'decode') throw new Error('unreachable');
    expect(handoffFromRemote(read.remote, info, 40, 0, 480_000)).toEqual({ ...handoff, blockBytes: 2000 });
  });

  it('marks a TCP handoff with tandem_transport and its layout, names the block server, and reads both back', () => {
    const tcp: KvHandoff = {
      ...handoff,
      blockBytes: 6144,
      transport: 'tcp',
      host: '10.0.0.7',
      port: 41000,
      layout: { numLayers: 3, numKvHeads: 2, headDim: 8, dtype: 'float32' },
    };
    const params = kvTransferParamsFor(tcp, { host: '10.0.0.5', port: 50051 });
    // The block server, not the gRPC address, is where the decode engine reads from.
    expect(params).toMatchObject({
      remote_host: '10.0.0.7',
      remote_port: 41000,
      tandem_transport: 'tcp',
      tandem_kv_layout: { num_layers: 3, num_kv_heads: 2, head_dim: 8, dtype: 'float32', block_bytes: 6144 },
    });
    const read = readKvTransferParams(JSON.parse(JSON.stringify(params)) as Record<string, unknown>);
    if (read.mode !== 'decode') throw new Error(`expected decode, got ${read.mode}`);
    expect(read.remote.transport).toBe('tcp');
    expect(handoffFromRemote(read.remote, info, 40, 0, 480_000)).toEqual(tcp);
    // vLLM's own params carry no mark: SIM, with this engine's block bytes.
    expect(handoffFromRemote({ ...read.remote, transport: 'sim', layout: undefined }, info, 40, 0, 480_000)).toEqual({
      ...handoff,
      blockBytes: 2000,
    });
    expect(readKvTransferParams({ ...params, tandem_transport: 'rdma' }).mode).toBe('recompute');
  });

  it('accepts the older flat block-id list and fills what older engines leave out', () => {
    const read = readKvTransferParams({
      do_remote_prefill: true,
      remote_engine_id: 'e',
      remote_request_id: 'r',
      remote_block_ids: [1, 2],
      remote_host: 'h',
      remote_port: 5600,
    });
    if (read.mode !== 'decode') throw new Error(`expected decode, got ${read.mode}`);
    expect(read.remote).toMatchObject({
      blockIds: [1, 2],
      tpSize: 1,
      blockSize: undefined,
      numTokens: undefined,
      expiresAtMs: undefined,
    });
    expect(handoffFromRemote(read.remote, info, 100, 5000, 480_000)).toMatchObject({
      blockSize: 16,
      numTokens: 32,
      expiresAtMs: 485_000,
    });
    expect(handoffFromRemote(read.remote, info, 20, 5000, 480_000).numTokens).toBe(20);
  });

  it.each([
    ['no engine id', { remote_engine_id: undefined }],
    ['a null host', { remote_host: null }],
    ['a port out of range', { remote_port: 70_000 }],
    ['a port that is a string', { remote_port: '5600' }],
    ['block ids that are not integers', { remote_block_ids: [[1, 'two']] }],
    ['block ids that are not a list', { remote_block_ids: 7 }],
  ])('reads do_remote_prefill with %s as invalid (recompute)', (_name, patch) => {
    const params = {
      do_remote_prefill: true,
      remote_engine_id: 'e',
      remote_request_id: 'r',
      remote_block_ids: [[1]],
      remote_host: 'h',
      remote_port: 5600,
      ...patch,
    };
    expect(readKvTransferParams(params as Record<string, unknown>).mode).toBe('recompute');
  });
});
