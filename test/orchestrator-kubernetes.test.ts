import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { startFakeVllmServer } from './fakes/fake-vllm-server.ts';
import { fakePod, startFakeKubeApi, type FakePod } from './fakes/fake-kube-api.ts';
import {
  allHealthy,
  complete,
  sample,
  startOrchestrator,
  startWorkers,
  testConfig,
  waitUntil,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * `discovery.kind: kubernetes` against the stand-in API server (test/fakes/fake-kube-api.ts),
 * reached through a kubeconfig file as a cluster is: pods become workers when Running and Ready,
 * leave drained, and no failure of the API (a cut watch, 410 Gone, an outage) empties the fleet.
 */

const cleanups = cleanupsAfter('each');

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
const portOfEndpoint = (endpoint: string | undefined) => (endpoint === undefined ? undefined : portOf(endpoint));

/** A pool pod standing for a fake gRPC worker on 127.0.0.1: its real ports as named container ports. */
function podFor(
  name: string,
  worker: FakeGrpcWorker,
  role = 'both',
  extra: { labels?: Record<string, string> } = {},
): FakePod {
  const ports: Record<string, number> = { grpc: portOf(worker.address) };
  const events = portOfEndpoint(worker.kvEndpoint);
  const replay = portOfEndpoint(worker.replayEndpoint);
  if (events !== undefined) ports['kv-events'] = events;
  if (replay !== undefined) ports['kv-replay'] = replay;
  return fakePod(name, {
    labels: {
      'app.kubernetes.io/component': 'worker',
      'tandem.dev/pool': role,
      'tandem.dev/role': role,
      ...extra.labels,
    },
    annotations: { 'tandem.dev/kv-events-topic': 'kv-events' },
    ports,
  });
}

async function setup(
  workerCount: number,
  options: { selectors?: string[]; workerOptions?: Parameters<typeof startWorkers>[1] } = {},
) {
  const api = await startFakeKubeApi({ namespace: 'serving' });
  cleanups.push(() => api.close());
  const dir = mkdtempSync(join(tmpdir(), 'tandem-k8s-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = api.writeKubeconfig(dir);
  const workers = await startWorkers(workerCount, options.workerOptions);
  cleanups.push(async () => {
    for (const w of workers) await w.close();
  });
  return { api, kubeconfig, workers };
}

async function orchestratorFor(
  kubeconfig: string,
  selectors = ['app.kubernetes.io/component=worker'],
): Promise<RunningOrchestrator> {
  const running = await startOrchestrator(
    testConfig([], {
      discovery: { kind: 'kubernetes', kubernetes: { kubeconfig, selectors, retry_initial_s: 0.05, retry_max_s: 0.4 } },
    }),
  );
  cleanups.push(() => running.close());
  return running;
}

const names = (running: RunningOrchestrator) =>
  running.orchestrator.fleet
    .snapshot()
    .map((w) => w.name)
    .sort();
const metricsText = async (running: RunningOrchestrator) => (await fetch(`${running.url}/metrics`)).text();

describe('kubernetes discovery', () => {
  it('makes Ready pods workers through a kubeconfig file, with the bearer token, and routes to them', async () => {
    const { api, kubeconfig, workers } = await setup(2);
    api.putPod(podFor('pool-a', workers[0]!));
    api.putPod({ ...podFor('pool-b', workers[1]!), status: { phase: 'Pending' } });
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a']);
    expect(names(running)).toEqual(['pool-a']);
    expect(api.requests.every((r) => r.authorization === 'Bearer tandem-test-token')).toBe(true);
    expect(
      api.requests.some((r) => r.path.startsWith('/api/v1/namespaces/serving/pods?') && r.path.includes('watch=true')),
    ).toBe(true);

    api.updatePod('pool-b', (pod) => (pod.status = podFor('pool-b', workers[1]!).status), 'serving');
    await allHealthy(running, ['pool-a', 'pool-b']);
    const snapshot = running.orchestrator.fleet.snapshot().find((w) => w.name === 'pool-b')!;
    expect(snapshot.address).toBe(workers[1]!.address);
    for (let i = 0; i < 8; i++)
      expect((await complete(running.url, { prompt: `spread ${i} `.repeat(20), max_tokens: 2 })).status).toBe(200);
    expect(workers[0]!.calls.length + workers[1]!.calls.length).toBe(8);
    expect(sample(await metricsText(running), 'tandem_discovery_workers')).toBe(2);
  });

  it('drains a pod that turns NotReady: its running request finishes, no new one lands there', async () => {
    const { api, kubeconfig, workers } = await setup(2, { workerOptions: { tokenDelayMs: 40 } });
    api.putPod(podFor('pool-a', workers[0]!));
    api.putPod(podFor('pool-b', workers[1]!));
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a', 'pool-b']);
    // Long requests until one runs on pool-b.
    const slow: Promise<{ status: number }>[] = [];
    for (let i = 0; slow.length < 12 && workers[1]!.running === 0; i++) {
      slow.push(complete(running.url, { prompt: `long ${i} `.repeat(30), max_tokens: 20 }));
      await sleep(20);
    }
    await waitUntil('a request running on pool-b', () => workers[1]!.running > 0);
    api.updatePod('pool-b', (pod) => (pod.status.conditions = [{ type: 'Ready', status: 'False' }]), 'serving');
    await waitUntil('pool-b out of the fleet', () => !names(running).includes('pool-b'));
    // Requests dispatched before it left may still be reaching it; none may arrive after this.
    await sleep(200);
    const callsBefore = workers[1]!.calls.length;
    expect(workers[1]!.running).toBeGreaterThan(0);
    for (let i = 0; i < 6; i++)
      expect((await complete(running.url, { prompt: `after ${i} `.repeat(10), max_tokens: 2 })).status).toBe(200);
    expect(workers[1]!.calls.length).toBe(callsBefore);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual(slow.map(() => 200));
    await waitUntil('pool-b drained and forgotten', () =>
      running.logs.some((l) => l.msg === 'worker pool-b drained and forgotten'),
    );
  });

  it('keeps the fleet when the watch is dropped mid-stream, and picks up what changed after it reconnects', async () => {
    const { api, kubeconfig, workers } = await setup(2);
    api.putPod(podFor('pool-a', workers[0]!));
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a']);
    await waitUntil('the watch open', () => api.openWatches === 1);
    expect(api.dropWatches()).toBe(1);
    await sleep(100);
    expect(names(running)).toEqual(['pool-a']);
    await waitUntil('the watch reopened', () => api.openWatches === 1);
    api.putPod(podFor('pool-b', workers[1]!));
    await allHealthy(running, ['pool-a', 'pool-b']);
  });

  it('re-lists after a 410 Gone and reconciles: a pod deleted while it was not watching leaves, a new one joins', async () => {
    const { api, kubeconfig, workers } = await setup(3);
    api.putPod(podFor('pool-a', workers[0]!));
    api.putPod(podFor('pool-b', workers[1]!));
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a', 'pool-b']);
    await waitUntil('the watch open', () => api.openWatches === 1);
    // Changes the watch does not see, then history compacted: the rewatch from the old
    // resourceVersion is answered as a real server does (200 + ERROR 410), so it must re-list.
    api.outage(300, 'reset');
    api.deletePod('pool-b', 'serving');
    api.putPod(podFor('pool-c', workers[2]!));
    api.compact();
    const listsBefore = api.requests.filter((r) => !r.path.includes('watch=')).length;
    await allHealthy(running, ['pool-a', 'pool-c']);
    await waitUntil('pool-b gone', () => !names(running).includes('pool-b'));
    expect(names(running)).toEqual(['pool-a', 'pool-c']);
    expect(api.requests.filter((r) => !r.path.includes('watch=') && r.path.includes('/pods')).length).toBeGreaterThan(
      listsBefore,
    );
    expect(running.logs.some((l) => l.msg.startsWith('pod list/watch failed'))).toBe(true);
  });

  it('follows BOOKMARK events without losing its place in the watch', async () => {
    const { api, kubeconfig, workers } = await setup(2);
    api.putPod(podFor('pool-a', workers[0]!));
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a']);
    await waitUntil('the watch open', () => api.openWatches === 1);
    api.bookmark();
    api.putPod(podFor('pool-b', workers[1]!));
    await allHealthy(running, ['pool-a', 'pool-b']);
  });

  // The case is an API server down for 30 s; what matters is that failures go on for
  // several retries (backoff capped at 0.4 s here), not the wall-clock length, so 3 s stands for it.
  it('keeps the last known fleet while the API server refuses every request, then reconciles', async () => {
    const { api, kubeconfig, workers } = await setup(3);
    api.putPod(podFor('pool-a', workers[0]!));
    api.putPod(podFor('pool-b', workers[1]!));
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a', 'pool-b']);
    await waitUntil('the watch open', () => api.openWatches === 1);
    // As long as the issue asks: half a minute of refusals, well past every retry backoff.
    const outageMs = 30_000;
    api.outage(outageMs, 'status');
    api.deletePod('pool-a', 'serving');
    api.putPod(podFor('pool-c', workers[2]!));
    const until = Date.now() + outageMs - 200;
    while (Date.now() < until) {
      expect(names(running)).toEqual(['pool-a', 'pool-b']);
      expect((await complete(running.url, { prompt: 'during the outage', max_tokens: 2 })).status).toBe(200);
      await sleep(200);
    }
    const failures = sample(await metricsText(running), 'tandem_discovery_watch_failures_total') ?? 0;
    expect(failures).toBeGreaterThanOrEqual(4);
    await waitUntil('reconciled after the outage', () => names(running).join() === 'pool-b,pool-c', 10_000);
    await allHealthy(running, ['pool-b', 'pool-c']);
    expect(running.logs.some((l) => l.msg === 'pod watch restored')).toBe(true);
  });

  it('skips a Ready pod with a missing port: one log line, one count, no crash; it joins once fixed', async () => {
    const { api, kubeconfig, workers } = await setup(2);
    api.putPod(podFor('pool-a', workers[0]!));
    const broken = podFor('pool-b', workers[1]!);
    broken.spec.containers[0]!.ports = broken.spec.containers[0]!.ports!.filter((p) => p.name !== 'grpc');
    api.putPod(broken);
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a']);
    // Another event for the broken pod: still one line, one count.
    api.updatePod(
      'pool-b',
      (pod) => (pod.metadata.annotations = { ...pod.metadata.annotations, touched: 'yes' }),
      'serving',
    );
    await sleep(100);
    expect(names(running)).toEqual(['pool-a']);
    const lines = running.logs.filter((l) => l.msg.startsWith('pod skipped'));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toContain('pool-b');
    expect(lines[0]!.msg).toContain('"grpc"');
    expect(sample(await metricsText(running), 'tandem_discovery_pods_skipped_total{reason="missing-port"}')).toBe(1);
    api.putPod(podFor('pool-b', workers[1]!));
    await allHealthy(running, ['pool-a', 'pool-b']);
  });

  it('replaces a worker whose role label changes (vLLM never announces one), and drops one that stops matching the selector', async () => {
    const { api, kubeconfig, workers } = await setup(1);
    const vllm = await startFakeVllmServer();
    cleanups.push(() => vllm.close());
    api.putPod(podFor('pool-a', workers[0]!, 'both'));
    api.putPod(
      fakePod('vllm-0', {
        labels: { 'app.kubernetes.io/component': 'worker', 'tandem.dev/role': 'decode' },
        ports: { http: portOf(vllm.url) },
      }),
    );
    const running = await orchestratorFor(kubeconfig);
    await allHealthy(running, ['pool-a', 'vllm-0']);
    const roleOf = (id: string) => running.orchestrator.fleet.candidates().find((c) => c.id === id)?.role;
    expect(roleOf('vllm-0')).toBe('decode');
    api.updatePod(
      'vllm-0',
      (pod) => (pod.metadata.labels = { ...pod.metadata.labels, 'tandem.dev/role': 'prefill' }),
      'serving',
    );
    await waitUntil('vllm-0 is a prefill worker', () => roleOf('vllm-0') === 'prefill');
    expect(running.logs.some((l) => l.msg === 'worker set changed' && (l.changed as string[]).includes('vllm-0'))).toBe(
      true,
    );
    // Relabelled out of the selector: the real server sends DELETED to this watch.
    api.updatePod('pool-a', (pod) => (pod.metadata.labels = { 'tandem.dev/role': 'both' }), 'serving');
    await waitUntil('pool-a gone', () => !names(running).includes('pool-a'));
  });

  it('watches several selectors (one per pool), counting a pod matched by both once', async () => {
    const { api, kubeconfig, workers } = await setup(2);
    api.putPod(podFor('p-0', workers[0]!, 'prefill'));
    api.putPod(podFor('d-0', workers[1]!, 'decode'));
    const running = await orchestratorFor(kubeconfig, [
      'tandem.dev/pool=prefill',
      'tandem.dev/pool=decode',
      'app.kubernetes.io/component=worker',
    ]);
    await allHealthy(running, ['d-0', 'p-0']);
    expect(names(running)).toEqual(['d-0', 'p-0']);
    await waitUntil('three watches', () => api.openWatches === 3);
  });

  it('refuses a config that lists workers beside kubernetes discovery', async () => {
    await expect(
      startOrchestrator(testConfig([{ name: 'x', address: '127.0.0.1:1' }], { discovery: { kind: 'kubernetes' } })),
    ).rejects.toThrow(/workers must be empty/);
  });
});
