import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config/index.ts';
import type { WorkerStatusReport } from '../backends/index.ts';
import type { WorkerSpec } from './discovery.ts';
import { connectable, hostOf, kvEventEndpointsFor, ranksOf } from './worker-endpoints.ts';

const spec = (entry: Record<string, unknown>): WorkerSpec => {
  const parsed = parseConfig({ workers: [{ name: 'w', address: '10.0.0.7:50051', ...entry }] });
  if (!parsed.ok) throw parsed.error;
  return parsed.value.workers[0]!;
};

const status = (
  endpoints: WorkerStatusReport['kvEventEndpoints'],
  load: WorkerStatusReport['load'] = [],
): WorkerStatusReport => ({
  engineId: 'e',
  role: 'both',
  engineKind: 'sim',
  gpu: null,
  model: null,
  tp: null,
  blockSize: 16,
  maxModelLen: null,
  servedModels: [],
  kvEventEndpoints: endpoints,
  load,
  warnings: [],
});

describe('worker KV-event endpoints', () => {
  it('finds the host of gRPC addresses and URLs', () => {
    expect(hostOf({ address: '10.0.0.7:50051', backend: 'grpc' })).toBe('10.0.0.7');
    expect(hostOf({ address: '[fd00::1]:50051', backend: 'grpc' })).toBe('fd00::1');
    expect(hostOf({ address: 'http://vllm-0.pool:8000', backend: 'vllm-http' })).toBe('vllm-0.pool');
  });

  it('dials the worker host where vLLM was given a bind address', () => {
    expect(connectable('tcp://*:5557', '10.0.0.7')).toBe('tcp://10.0.0.7:5557');
    expect(connectable('tcp://0.0.0.0:5558', 'fd00::1')).toBe('tcp://[fd00::1]:5558');
    expect(connectable('tcp://10.0.0.9:5557', '10.0.0.7')).toBe('tcp://10.0.0.9:5557');
    expect(connectable('ipc:///tmp/kv', '10.0.0.7')).toBe('ipc:///tmp/kv');
  });

  it("offsets configured ports by data-parallel rank, as vLLM's publishers bind them", () => {
    const s = spec({
      backend: 'vllm-http',
      address: 'http://10.0.0.7:8000',
      data_parallel_size: 3,
      kv_events: { endpoint: 'tcp://*:5557', replay_endpoint: 'tcp://*:5600', topic: 'kv' },
    });
    expect(kvEventEndpointsFor(s, null)).toEqual([
      { endpoint: 'tcp://10.0.0.7:5557', replayEndpoint: 'tcp://10.0.0.7:5600', topic: 'kv', dpRank: 0 },
      { endpoint: 'tcp://10.0.0.7:5558', replayEndpoint: 'tcp://10.0.0.7:5601', topic: 'kv', dpRank: 1 },
      { endpoint: 'tcp://10.0.0.7:5559', replayEndpoint: 'tcp://10.0.0.7:5602', topic: 'kv', dpRank: 2 },
    ]);
  });

  it('uses announced endpoints when the config names none, and config when it does', () => {
    const announced = status([{ endpoint: 'tcp://*:6000', replayEndpoint: undefined, topic: '', dpRank: 1 }]);
    expect(kvEventEndpointsFor(spec({}), announced)).toEqual([
      { endpoint: 'tcp://10.0.0.7:6000', replayEndpoint: undefined, topic: '', dpRank: 1 },
    ]);
    expect(kvEventEndpointsFor(spec({ kv_events: { endpoint: 'tcp://10.0.0.8:7000' } }), announced)[0]?.endpoint).toBe(
      'tcp://10.0.0.8:7000',
    );
  });

  it('counts ranks from config, endpoints and reported load', () => {
    expect(ranksOf(spec({}), null, [])).toEqual([0]);
    expect(
      ranksOf(spec({ data_parallel_size: 2 }), status([], [{ dpRank: 3, report: {} }]), [
        { endpoint: 'x', replayEndpoint: undefined, topic: '', dpRank: 2 },
      ]),
    ).toEqual([0, 1, 2, 3]);
  });
});
