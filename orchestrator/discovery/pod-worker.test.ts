import { describe, expect, it } from 'vitest';
import { podVerdict, workersFromPods, type PodLike } from './pod-worker.ts';

const pod = (
  over: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ports?: Record<string, number>;
    ready?: boolean;
    phase?: string;
    deleting?: boolean;
    ip?: string;
  } = {},
): PodLike => ({
  metadata: {
    name: over.name ?? 'tandem-decode-abc',
    labels: over.labels ?? { 'tandem.dev/role': 'decode' },
    annotations: over.annotations ?? {},
    ...(over.deleting ? { deletionTimestamp: '2026-12-07T12:00:00Z' } : {}),
  },
  spec: {
    containers: [
      {
        ports: Object.entries(over.ports ?? { grpc: 50051, http: 8100, 'kv-events': 5557, 'kv-replay': 5558 }).map(
          ([name, containerPort]) => ({ name, containerPort }),
        ),
      },
    ],
  },
  status: {
    phase: over.phase ?? 'Running',
    podIP: over.ip ?? '10.1.2.3',
    conditions: [{ type: 'Ready', status: over.ready === false ? 'False' : 'True' }],
  },
});

describe('a pod as a worker', () => {
  it('reads role, backend, address and KV-event endpoints from the label and named ports', () => {
    const verdict = podVerdict(pod());
    expect(verdict).toEqual({
      kind: 'worker',
      spec: expect.objectContaining({
        name: 'tandem-decode-abc',
        role: 'decode',
        backend: 'grpc',
        address: '10.1.2.3:50051',
        kv_events: { endpoint: 'tcp://10.1.2.3:5557', replay_endpoint: 'tcp://10.1.2.3:5558', topic: '' },
        data_parallel_size: 1,
      }),
    });
  });

  it('reads a vLLM pod: http port, GPU/model/TP, data-parallel size and KV-transfer protocol from annotations', () => {
    const verdict = podVerdict(
      pod({
        ports: { http: 8000, 'kv-events': 5557 },
        annotations: {
          'tandem.dev/gpu': 'h100-sxm',
          'tandem.dev/model': 'qwen3-8b',
          'tandem.dev/tp': '2',
          'tandem.dev/data-parallel-size': '4',
          'tandem.dev/kv-transfer': 'nixl',
        },
      }),
    );
    expect(verdict.kind === 'worker' && verdict.spec).toMatchObject({
      backend: 'vllm-http',
      address: 'http://10.1.2.3:8000',
      gpu: 'h100-sxm',
      model: 'qwen3-8b',
      tp: 2,
      data_parallel_size: 4,
      kv_transfer: { protocol: 'nixl' },
    });
  });

  it('is not a worker while pending, NotReady, terminating or without an IP', () => {
    expect(podVerdict(pod({ phase: 'Pending' })).kind).toBe('not-ready');
    expect(podVerdict(pod({ ready: false })).kind).toBe('not-ready');
    expect(podVerdict(pod({ deleting: true })).kind).toBe('not-ready');
    expect(podVerdict(pod({ ip: '' })).kind).toBe('not-ready');
  });

  it('skips a Ready pod with a missing port, a missing role or a bad annotation, saying why', () => {
    expect(podVerdict(pod({ ports: { metrics: 9000 } }))).toMatchObject({
      kind: 'skipped',
      reason: 'missing-port',
      message: expect.stringContaining('"http"'),
    });
    expect(podVerdict(pod({ labels: {} }))).toMatchObject({ kind: 'skipped', reason: 'missing-role' });
    expect(podVerdict(pod({ labels: { 'tandem.dev/role': 'encode' } }))).toMatchObject({
      kind: 'skipped',
      reason: 'bad-metadata',
      message: expect.stringContaining('role'),
    });
    expect(podVerdict(pod({ annotations: { 'tandem.dev/tp': 'two' } }))).toMatchObject({
      kind: 'skipped',
      reason: 'bad-metadata',
      message: expect.stringContaining('tp'),
    });
    expect(podVerdict(pod({ annotations: { 'tandem.dev/kv-transfer': 'nixl' } }))).toMatchObject({
      kind: 'skipped',
      reason: 'bad-metadata',
      message: expect.stringContaining('kv_transfer.protocol'),
    });
  });

  it('counts a pod matched by two selectors once, and sorts the set by name', () => {
    const { workers, skipped } = workersFromPods([
      pod({ name: 'b' }),
      pod({ name: 'a' }),
      pod({ name: 'b' }),
      pod({ name: 'c', labels: {} }),
    ]);
    expect(workers.map((w) => w.name)).toEqual(['a', 'b']);
    expect(skipped).toEqual([{ pod: 'c', reason: 'missing-role', message: expect.any(String) }]);
  });
});
