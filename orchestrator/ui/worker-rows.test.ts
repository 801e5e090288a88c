import { describe, expect, it } from 'vitest';
import type { WorkerSnapshot } from '../discovery/index.ts';
import { poolSummaries, statusSamples, workerRows } from './worker-rows.ts';

function snapshot(
  name: string,
  role: WorkerSnapshot['role'],
  state: WorkerSnapshot['state'],
  ranks: unknown[],
): WorkerSnapshot {
  return {
    name,
    backend: 'grpc',
    address: '127.0.0.1:1',
    state,
    role,
    profile: { gpu: 'h100-sxm', model: 'qwen3-8b', tp: 1, source: 'announced' },
    engineKind: 'sim',
    engineId: 'e',
    restarts: 1,
    blockSize: { expected: 16, announced: 16, mismatch: false },
    health: {
      state: 'healthy',
      consecutiveFailures: 0,
      consecutiveSuccesses: 1,
      ejections: 0,
      lastError: null,
      lastCheckAtMs: 0,
      sinceMs: 0,
    },
    inflight: 0,
    lastStatusAtMs: 0,
    warnings: [],
    ranks,
  };
}

describe('worker rows', () => {
  it("reads each rank's reported load, KV usage from active over total blocks, and the index's blocks", () => {
    const rows = workerRows([
      snapshot('prefill-0', 'prefill', 'healthy', [
        {
          tenant: 'prefill-0',
          load: { inflightRequests: 3 },
          indexedBlocks: 40,
          reported: { runningRequests: 2, waitingRequests: 1, activeKvBlocks: 25, totalKvBlocks: 100 },
        },
      ]),
      snapshot('decode-0', 'decode', 'pending', [
        { tenant: 'decode-0', load: { inflightRequests: 0 }, indexedBlocks: 0, reported: null },
      ]),
      snapshot('vllm', 'both', 'healthy', [
        {
          tenant: 'vllm',
          load: { inflightRequests: 1 },
          indexedBlocks: 7,
          reported: { runningRequests: 1, kvUsage: 0.5 },
        },
      ]),
    ]);
    expect(rows[0]).toMatchObject({
      name: 'prefill-0',
      role: 'prefill',
      running: 2,
      waiting: 1,
      inflight: 3,
      kvUsage: 0.25,
      cachedBlocks: 40,
      restarts: 1,
      state: 'healthy',
    });
    expect(rows[1]).toMatchObject({ name: 'decode-0', running: null, waiting: null, kvUsage: null, state: 'pending' });
    expect(rows[2]).toMatchObject({ kvUsage: 0.5, waiting: null });
    expect(statusSamples(rows)[0]).toEqual({
      worker: 'prefill-0',
      role: 'prefill',
      runningRequests: 2,
      waitingRequests: 1,
      kvUsage: 0.25,
    });
  });

  it('summarises pools by role, counting only healthy workers as healthy', () => {
    const rows = workerRows([
      snapshot('p0', 'prefill', 'healthy', [
        {
          tenant: 'p0',
          reported: { runningRequests: 2, waitingRequests: 0, activeKvBlocks: 10, totalKvBlocks: 100 },
          indexedBlocks: 5,
        },
      ]),
      snapshot('p1', 'prefill', 'ejected', [
        {
          tenant: 'p1',
          reported: { runningRequests: 1, waitingRequests: 3, activeKvBlocks: 30, totalKvBlocks: 100 },
          indexedBlocks: 6,
        },
      ]),
      snapshot('d0', 'decode', 'healthy', [{ tenant: 'd0', reported: null }]),
    ]);
    const pools = poolSummaries(rows);
    expect(pools.map((p) => p.role)).toEqual(['prefill', 'decode']);
    expect(pools[0]).toEqual({
      role: 'prefill',
      workers: 2,
      healthy: 1,
      running: 3,
      waiting: 3,
      kvUsage: 0.2,
      cachedBlocks: 11,
    });
    expect(pools[1]).toMatchObject({ workers: 1, healthy: 1, kvUsage: null });
  });
});
