import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../common/clock.ts';
import { parseConfig } from '../common/config/index.ts';
import { silentLogger } from '../common/log.ts';
import { createPushSource, startPlanner, type Observation, type RunningPlanner } from '../planner/index.ts';
import { fakePod, startFakeKubeApi, type FakeKubeApi } from './fakes/fake-kube-api.ts';
import {
  complete,
  startOrchestrator,
  testConfig,
  waitUntil,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { createWorkerFleet, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * The closed loop without a cluster: `tandem worker` processes stand for the pods of two pool
 * Deployments registered in the stand-in API server (pod IP 127.0.0.1, their real ports as named
 * container ports); the orchestrator discovers them through a kubeconfig; the planner, driven by
 * a load change, PATCHes the pools' scale; this test's controller plays the Deployment controller
 * (starts a worker process and adds its pod, or marks a pod terminating and stops its worker once
 * drained). Traffic runs throughout and no request may fail.
 */

const port = (address: string | null) => Number(address!.slice(address!.lastIndexOf(':') + 1));

describe('planner -> scale -> pods -> orchestrator -> traffic', () => {
  const fleet = createWorkerFleet();
  let api: FakeKubeApi | undefined;
  let running: RunningOrchestrator | undefined;
  let planner: RunningPlanner | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    await planner?.stop();
    await running?.close();
    await fleet.stopAll();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('routes to a pod the planner adds within 5 s of Ready, and drains one it removes, with no failed request', async () => {
    api = await startFakeKubeApi({ namespace: 'tandem' });
    dir = mkdtempSync(join(tmpdir(), 'tandem-loop-'));
    const kubeconfig = api.writeKubeconfig(dir);

    /** The Deployment controller's part: pods (worker processes) per Deployment. */
    const pods = new Map<string, { pod: string; worker: WorkerProcess }[]>([
      ['tandem-prefill', []],
      ['tandem-decode', []],
    ]);
    const readyAt = new Map<string, number>();
    let serial = 0;
    const addPod = async (deployment: string) => {
      const role = deployment === 'tandem-prefill' ? 'prefill' : 'decode';
      const worker = await fleet.start(['--engine', 'sim', '--role', role]);
      const name = `${deployment}-${serial++}`;
      const ports: Record<string, number> = { grpc: port(worker.ready.grpc) };
      if (worker.ready.kv_events) ports['kv-events'] = port(worker.ready.kv_events);
      if (worker.ready.replay) ports['kv-replay'] = port(worker.ready.replay);
      const labels = {
        'app.kubernetes.io/name': 'tandem',
        'app.kubernetes.io/component': 'worker',
        'tandem.dev/pool': role,
        'tandem.dev/role': role,
      };
      // Created not yet Ready (its probe has not passed), then Ready.
      api!.putPod(
        fakePod(name, {
          labels,
          annotations: { 'tandem.dev/kv-events-topic': worker.ready.topic },
          ports,
          ready: false,
        }),
      );
      await sleep(100);
      api!.updatePod(name, (pod) => (pod.status.conditions = [{ type: 'Ready', status: 'True' }]), 'tandem');
      readyAt.set(name, Date.now());
      pods.get(deployment)!.push({ pod: name, worker });
      return name;
    };
    const removed: string[] = [];
    const removePod = async (deployment: string) => {
      const last = pods.get(deployment)!.pop()!;
      api!.markTerminating(last.pod, 'tandem');
      removed.push(last.pod);
      // The pod's grace period: the orchestrator drains it; then the worker stops and the pod goes.
      await waitUntil(
        `${last.pod} drained`,
        () => running!.logs.some((l) => l.msg === `worker ${last.pod} drained and forgotten`),
        20_000,
      );
      await last.worker.stop();
      api!.deletePod(last.pod, 'tandem');
    };
    const scaling: Promise<unknown>[] = [];
    api.onScale((deployment, replicas) => {
      const scale = async () => {
        while (pods.get(deployment)!.length < replicas) await addPod(deployment);
        while (pods.get(deployment)!.length > replicas) await removePod(deployment);
      };
      scaling.push(scale());
    });

    Object.assign(api.replicas, { 'tandem-prefill': 1, 'tandem-decode': 1 });
    await addPod('tandem-prefill');
    await addPod('tandem-decode');

    running = await startOrchestrator(
      testConfig([], {
        discovery: {
          kind: 'kubernetes',
          kubernetes: { kubeconfig, selectors: ['app.kubernetes.io/component=worker'] },
        },
        disaggregation: { mode: 'always' },
      }),
    );
    const healthy = () =>
      running!.orchestrator.fleet
        .snapshot()
        .filter((w) => w.state === 'healthy')
        .map((w) => w.name);
    await waitUntil('both pods routable', () => healthy().length === 2, 20_000);

    const plannerConfig = parseConfig({
      planner: {
        interval_s: 30,
        // The last observation is the forecast, so one quiet interval brings the pools down.
        predictor: { kind: 'constant' },
        pools: [
          { name: 'prefill', role: 'prefill', min_replicas: 1, max_replicas: 2 },
          { name: 'decode', role: 'decode', min_replicas: 1, max_replicas: 2 },
        ],
        stability: { scale_down_window_s: 0 },
        hooks: { mode: 'direct', namespace: 'tandem', metrics_port: 0, keda_port: 0 },
      },
    });
    if (!plannerConfig.ok) throw plannerConfig.error;
    const source = createPushSource();
    const clock = createVirtualClock(30_000);
    planner = await startPlanner(plannerConfig.value, {
      clock,
      log: silentLogger,
      source,
      kubeConfig: api.kubeConfig(),
    });

    // Traffic throughout: two clients, distinct prompts, a short pause between requests.
    const failures: string[] = [];
    let served = 0;
    let on = true;
    const client = async (id: number) => {
      for (let i = 0; on; i++) {
        const answer = await complete(running!.url, { prompt: `client ${id} request ${i} `.repeat(8), max_tokens: 8 });
        if (answer.status === 200) served++;
        else failures.push(`${answer.status} ${JSON.stringify(answer.json)}`);
        await sleep(50);
      }
    };
    const clients = [0, 1].map(client);
    const servedBy = (name: string) =>
      running!.logs.filter(
        (l) => l.msg === 'request served' && (l.prefill === name || l.decode === name || l.worker === name),
      );
    try {
      await waitUntil('traffic flowing', () => served >= 8, 20_000);

      // Load rises: the planner scales both pools up (PATCH), the controller adds a pod each.
      const busy: Observation = {
        atMs: 30_000,
        intervalS: 30,
        requestRate: 50,
        islMean: 8000,
        oslMean: 400,
        prefixHitRate: 0,
      };
      source.push(busy);
      const up = await planner.tick();
      expect(up?.pools.map((p) => p.replicas)).toEqual([2, 2]);
      expect(api.requests.filter((r) => r.method === 'PATCH').map((r) => [r.path, JSON.parse(r.body)])).toEqual([
        ['/apis/apps/v1/namespaces/tandem/deployments/tandem-prefill/scale', { spec: { replicas: 2 } }],
        ['/apis/apps/v1/namespaces/tandem/deployments/tandem-decode/scale', { spec: { replicas: 2 } }],
      ]);
      await waitUntil(
        'the new pods added',
        () => pods.get('tandem-prefill')!.length === 2 && pods.get('tandem-decode')!.length === 2,
        60_000,
      );
      for (const { pod } of [pods.get('tandem-prefill')![1]!, pods.get('tandem-decode')![1]!]) {
        await waitUntil(`a request served by ${pod}`, () => servedBy(pod).length > 0, 15_000);
        // The log line is written when the request ends; it started earlier still.
        const firstServedAt = Math.min(...servedBy(pod).map((l) => l.time as number));
        expect(firstServedAt - readyAt.get(pod)!, `${pod}: first request after Ready`).toBeLessThan(5000);
      }

      // Load falls: the planner scales back down; the controller marks the newest pods
      // terminating, waits for the orchestrator to drain them, then stops them.
      // (The clock moves first: a tick of the planner's own timer must not take the observation.)
      await clock.advanceAsync(30_000);
      source.push({ ...busy, atMs: 60_000, requestRate: 0.1, islMean: 200, oslMean: 20 });
      const down = await planner.tick();
      expect(down?.pools.map((p) => p.replicas)).toEqual([1, 1]);
      await waitUntil(
        'scaled down',
        () => removed.length === 2 && !healthy().some((name) => removed.includes(name)),
        40_000,
      );
      await Promise.all(scaling);
      // Nothing lands on a removed pod after it left.
      const after = new Map(removed.map((name) => [name, servedBy(name).length]));
      await sleep(1000);
      for (const name of removed) expect(servedBy(name).length, name).toBe(after.get(name));
      await waitUntil('traffic still flowing', () => served >= 30, 20_000);
    } finally {
      on = false;
      await Promise.all(clients);
    }
    expect(failures).toEqual([]);
  }, 150_000);
});
