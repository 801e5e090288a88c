import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../common/clock.ts';
import { parseConfig, type ConfigInput } from '../common/config/index.ts';
import { silentLogger } from '../common/log.ts';
import { createPushSource, startPlanner, type Observation, type RunningPlanner } from '../planner/index.ts';
import { startFakeKubeApi } from './fakes/fake-kube-api.ts';
import { ExternalScaler } from '../proto/gen/third_party/keda/externalscaler_pb.ts';
import { createGrpcClient, GrpcStatus, type RpcError } from '../proto/grpc/index.ts';

/** Long prompts, short answers: the default pools come out at 4 prefill and 2 decode replicas. */
const longPrompts: Observation = {
  atMs: 30_000,
  intervalS: 30,
  requestRate: 10,
  islMean: 8000,
  oslMean: 200,
  prefixHitRate: 0,
};

const running: RunningPlanner[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((planner) => planner.stop()));
});

async function start(planner: ConfigInput['planner'], extra: { kubeConfig?: KubeConfig } = {}) {
  const config = parseConfig({ planner: { ...planner, hooks: { metrics_port: 0, keda_port: 0, ...planner?.hooks } } });
  if (!config.ok) throw config.error;
  const source = createPushSource();
  const clock = createVirtualClock(30_000);
  const instance = await startPlanner(config.value, { clock, log: silentLogger, source, ...extra });
  running.push(instance);
  return { instance, source, clock };
}

describe('the continuous loop', () => {
  it('collects and decides once per interval on the injected clock', async () => {
    const { instance, source, clock } = await start({ interval_s: 30, hooks: { mode: 'none' } });
    source.push(longPrompts);
    await clock.advanceAsync(29_000);
    expect(instance.board.latest()).toBeUndefined();
    await clock.advanceAsync(1_000);
    expect(instance.board.latest()?.prefillReplicas).toBe(4);
    source.push({ ...longPrompts, atMs: 60_000, requestRate: 20 });
    await clock.advanceAsync(30_000);
    expect(instance.board.latest()?.predicted.requestRate).toBeGreaterThan(10);
  });
});

describe('KEDA external scaler over a real gRPC socket', () => {
  it('serves the metric spec, the desired replicas, and activity for each pool', async () => {
    const { instance, source } = await start({ hooks: { mode: 'keda' } });
    const client = createGrpcClient(ExternalScaler, `127.0.0.1:${instance.kedaPort}`);
    try {
      const ref = (pool: string) => ({ name: `tandem-${pool}`, namespace: 'serving', scalerMetadata: { pool } });
      // Before any decision KEDA is told to wait (UNAVAILABLE), not given a made-up number.
      const early = await client
        .getMetrics({ scaledObjectRef: ref('prefill'), metricName: 'tandem-planner-prefill' })
        .catch((e: unknown) => e);
      expect((early as RpcError).code).toBe(GrpcStatus.UNAVAILABLE);

      const stream = client.streamIsActive(ref('decode'))[Symbol.asyncIterator]();
      source.push(longPrompts);
      await instance.tick();

      const spec = await client.getMetricSpec(ref('prefill'));
      expect(spec.metricSpecs).toHaveLength(1);
      expect(spec.metricSpecs[0]).toMatchObject({
        metricName: 'tandem-planner-prefill',
        targetSize: 1n,
        targetSizeFloat: 1,
      });
      const prefill = await client.getMetrics({
        scaledObjectRef: ref('prefill'),
        metricName: 's0-tandem-planner-prefill',
      });
      expect(prefill.metricValues[0]).toMatchObject({
        metricName: 's0-tandem-planner-prefill',
        metricValue: 4n,
        metricValueFloat: 4,
      });
      const decode = await client.getMetrics({ scaledObjectRef: ref('decode'), metricName: 'tandem-planner-decode' });
      expect(decode.metricValues[0]!.metricValueFloat).toBe(2);
      expect((await client.isActive(ref('decode'))).result).toBe(true);
      expect((await stream.next()).value).toMatchObject({ result: true });
      await stream.return?.();

      const unknown = await client
        .getMetrics({ scaledObjectRef: ref('encode'), metricName: 'x' })
        .catch((e: unknown) => e);
      expect((unknown as RpcError).code).toBe(GrpcStatus.NOT_FOUND);
      expect((unknown as RpcError).message).toContain('known: prefill, decode');
      const missing = await client.isActive({ name: 'x', namespace: 'y', scalerMetadata: {} }).catch((e: unknown) => e);
      expect((missing as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    } finally {
      client.close();
    }
  });
});

describe('HPA external metric', () => {
  it('exports tandem_planner_desired_replicas per pool on /metrics, and /decision as JSON', async () => {
    const { instance, source } = await start({ hooks: { mode: 'hpa' } });
    const base = `http://127.0.0.1:${instance.httpPort}`;
    expect((await fetch(`${base}/decision`)).status).toBe(404);
    source.push(longPrompts);
    await instance.tick();
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^tandem_planner_desired_replicas\{pool="prefill",role="prefill"\} 4$/m);
    expect(text).toMatch(/^tandem_planner_desired_replicas\{pool="decode",role="decode"\} 2$/m);
    expect(text).toMatch(/^tandem_planner_predicted_request_rate 10$/m);
    expect(text).toMatch(/^tandem_planner_disaggregation_threshold_tokens \d+$/m);
    const decision = (await (await fetch(`${base}/decision`)).json()) as {
      prefill_replicas: number;
      decode_replicas: number;
    };
    expect(decision).toMatchObject({ prefill_replicas: 4, decode_replicas: 2 });
  });

  it('exports no desired replicas in dry run, so nothing scales from them', async () => {
    const { instance, source } = await start({ dry_run: true, hooks: { mode: 'hpa' } });
    source.push(longPrompts);
    await instance.tick();
    const text = await (await fetch(`http://127.0.0.1:${instance.httpPort}/metrics`)).text();
    expect(text).not.toMatch(/^tandem_planner_desired_replicas\{/m);
    expect(text).toMatch(/^tandem_planner_predicted_request_rate 10$/m);
  });
});

/** The stand-in Kubernetes API (test/fakes/fake-kube-api.ts) with these Deployments' scale. */
async function fakeKubernetes(replicas: Record<string, number>) {
  const api = await startFakeKubeApi({ token: 'planner-token' });
  Object.assign(api.replicas, replicas);
  return { requests: api.requests, kubeConfig: api.kubeConfig(), close: () => api.close() };
}

describe('direct mode', () => {
  it("patches the scale subresource of each pool's Deployment with a merge patch", async () => {
    const k8s = await fakeKubernetes({ 'tandem-prefill': 1, 'tandem-decode': 2 });
    try {
      const { instance, source } = await start(
        { hooks: { mode: 'direct', namespace: 'serving' } },
        { kubeConfig: k8s.kubeConfig },
      );
      source.push(longPrompts);
      await instance.tick();
      const patches = k8s.requests.filter((r) => r.method === 'PATCH');
      // Decode already runs 2: read, not patched. Prefill runs 1 and must run 4.
      expect(patches).toHaveLength(1);
      expect(patches[0]).toMatchObject({
        path: '/apis/apps/v1/namespaces/serving/deployments/tandem-prefill/scale',
        contentType: 'application/merge-patch+json',
        authorization: 'Bearer planner-token',
      });
      expect(JSON.parse(patches[0]!.body)).toEqual({ spec: { replicas: 4 } });
      const reads = k8s.requests.filter((r) => r.method === 'GET').map((r) => r.path);
      expect(reads).toEqual([
        '/apis/apps/v1/namespaces/serving/deployments/tandem-prefill/scale',
        '/apis/apps/v1/namespaces/serving/deployments/tandem-decode/scale',
      ]);
    } finally {
      await Promise.all(running.splice(0).map((planner) => planner.stop()));
      await k8s.close();
    }
  });

  it('sends nothing to Kubernetes in dry run', async () => {
    const k8s = await fakeKubernetes({ 'tandem-prefill': 1, 'tandem-decode': 1 });
    try {
      const { instance, source } = await start(
        { dry_run: true, hooks: { mode: 'direct' } },
        { kubeConfig: k8s.kubeConfig },
      );
      source.push(longPrompts);
      const decision = await instance.tick();
      expect(decision?.prefillReplicas).toBe(4);
      expect(k8s.requests).toEqual([]);
    } finally {
      await Promise.all(running.splice(0).map((planner) => planner.stop()));
      await k8s.close();
    }
  });
});
