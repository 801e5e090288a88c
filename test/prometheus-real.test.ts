import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { realClock } from '../common/clock.ts';
import { parseConfig } from '../common/config/index.ts';
import { silentLogger } from '../common/log.ts';
import { startPlanner, type RunningPlanner } from '../planner/index.ts';
import { WorkerRole } from '../proto/gen/tandem/v1/worker_pb.ts';
import { startFakeGrpcWorker, type FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { fakePod, startFakeKubeApi, type FakeKubeApi } from './fakes/fake-kube-api.ts';
import { startFakeVllmServer, type FakeVllmServer } from './fakes/fake-vllm-server.ts';
import {
  complete,
  startOrchestrator,
  testConfig,
  waitUntil,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';

/**
 * A real Prometheus (Debian's package; `.ci/setup-prometheus` installs it) on a free loopback
 * port scrapes a live orchestrator (kubernetes discovery against the stand-in API, a prefill, a
 * decode and a vLLM worker, one pod skipped) and a live planner every second. Then every PromQL
 * expression of deploy/grafana/tandem-dashboard.json and of the prometheus-adapter rules must
 * parse and return series, and the planner with `source.kind: prometheus` decides from what
 * Prometheus scraped. Without the binary the test is skipped, except under CI=true.
 */

const PROMETHEUS = '/usr/bin/prometheus';
const INSTALL = 'install it with .ci/setup-prometheus (Debian package prometheus)';
const available = existsSync(PROMETHEUS);
if (!available && process.env.CI !== 'true')
  console.warn(`test/prometheus-real.test.ts skipped: no ${PROMETHEUS}; ${INSTALL}`);

describe.runIf(!available && process.env.CI === 'true')('a real Prometheus (CI)', () => {
  it('is installed', () => {
    throw new Error(`no ${PROMETHEUS} under CI=true: ${INSTALL}`);
  });
});

/** Grafana's $__rate_interval for a 1 s scrape interval is 4 scrapes; 10 s leaves room on a busy machine. */
const RATE_INTERVAL = '10s';
/**
 * Labelled replica-sync series exist only once a transport runs (several serving processes, or
 * NATS); this orchestrator is one process, so their panels must parse but may stay empty.
 * test/replica-sync-nats.test.ts reads them from live replicas.
 */
const ONLY_WITH_REPLICA_SYNC = ['tandem_replica_sync_messages_total', 'tandem_replica_sync_connected'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] };
}

describe.skipIf(!available)('a real Prometheus scraping the orchestrator and the planner', () => {
  let dir: string;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let promUrl: string;
  let api: FakeKubeApi;
  let workers: FakeGrpcWorker[] = [];
  let vllm: FakeVllmServer | undefined;
  let running: RunningOrchestrator | undefined;
  let planner: RunningPlanner | undefined;

  const query = async (promql: string): Promise<QueryAnswer> =>
    (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as QueryAnswer;
  const seriesOf = async (promql: string) => {
    const answer = await query(promql);
    if (answer.status !== 'success') throw new Error(`${promql}: ${answer.error}`);
    return answer.data!.result;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tandem-prometheus-'));
    api = await startFakeKubeApi({ namespace: 'tandem' });
    const kubeconfig = api.writeKubeconfig(dir);
    workers = [
      await startFakeGrpcWorker({ role: WorkerRole.PREFILL }),
      // Decode workers on L40S, the prefill worker on an H100: a long prompt prefills sooner on
      // the H100 plus the transfer than on an idle L40S, so the placement rule disaggregates it.
      await startFakeGrpcWorker({ role: WorkerRole.DECODE, gpu: 'l40s' }),
    ];
    vllm = await startFakeVllmServer({ servedModel: 'Qwen/Qwen3-8B' });
    const grpcPod = (name: string, worker: FakeGrpcWorker, role: string) => {
      const port = (endpoint: string | undefined) => Number(endpoint!.slice(endpoint!.lastIndexOf(':') + 1));
      return fakePod(name, {
        labels: { 'app.kubernetes.io/component': 'worker', 'tandem.dev/role': role },
        annotations: { 'tandem.dev/kv-events-topic': 'kv-events' },
        ports: {
          grpc: port(worker.address),
          'kv-events': port(worker.kvEndpoint),
          'kv-replay': port(worker.replayEndpoint),
        },
      });
    };
    api.putPod(grpcPod('tandem-prefill-0', workers[0]!, 'prefill'));
    api.putPod(grpcPod('tandem-decode-0', workers[1]!, 'decode'));
    api.putPod(
      fakePod('vllm-decode-0', {
        labels: { 'app.kubernetes.io/component': 'worker', 'tandem.dev/role': 'decode' },
        annotations: { 'tandem.dev/gpu': 'l40s' },
        ports: { http: Number(new URL(vllm.url).port) },
      }),
    );
    api.putPod(
      fakePod('broken-0', {
        labels: { 'app.kubernetes.io/component': 'worker', 'tandem.dev/role': 'decode' },
        ports: { metrics: 9 },
      }),
    );
    running = await startOrchestrator(
      testConfig([], {
        discovery: { kind: 'kubernetes', kubernetes: { kubeconfig } },
        disaggregation: { mode: 'auto', threshold_tokens: 64 },
      }),
    );
    await waitUntil(
      'three workers healthy',
      () => running!.orchestrator.fleet.snapshot().filter((w) => w.state === 'healthy').length === 3,
      20_000,
    );

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const withUrl = parseConfig({
      planner: {
        interval_s: 30,
        source: { kind: 'prometheus', url: promUrl, timeout_s: 5 },
        hooks: { mode: 'hpa', metrics_port: 0 },
      },
    });
    if (!withUrl.ok) throw withUrl.error;
    planner = await startPlanner(withUrl.value, { clock: realClock, log: silentLogger });

    const orchestratorTarget = new URL(running.url).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        // The namespace label stands for what Kubernetes service discovery attaches; the adapter rules select on it.
        '  - job_name: tandem-orchestrator',
        '    static_configs:',
        `      - targets: ['${orchestratorTarget}']`,
        '        labels: { namespace: tandem }',
        '  - job_name: tandem-planner',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${planner.httpPort}']`,
        '        labels: { namespace: tandem }',
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    await waitUntil(
      `Prometheus ready on ${promUrl}`,
      async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true,
      20_000,
    );
  }, 60_000);

  afterAll(async () => {
    await planner?.stop();
    await running?.close();
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
    }
    for (const w of workers) await w.close();
    await vllm?.close();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every dashboard and adapter expression with series, and the planner decides from what it scraped', async () => {
    // Traffic through the whole test (rates need it in every window): short prompts
    // (aggregated) and long ones (disaggregated). Prometheus' first scrape comes a few seconds
    // after it starts (its discovery sends targets at most every 5 s).
    let trafficOn = true;
    const failures: string[] = [];
    const traffic = (async () => {
      for (let sent = 0; trafficOn; sent++) {
        const long = sent % 2 === 1;
        const answer = await complete(running!.url, {
          prompt: long ? `a long shared system prompt ${sent % 3} `.repeat(40) : `short ${sent}`,
          max_tokens: 4,
        });
        if (answer.status !== 200) failures.push(`${answer.status} ${JSON.stringify(answer.json)}`);
        await sleep(100);
      }
    })();
    try {
      await waitUntil(
        'Prometheus holds disaggregated traffic',
        async () => (await seriesOf('sum(rate(tandem_requests_total{mode="disaggregated"}[10s])) > 0')).length > 0,
        30_000,
      );
      await check();
    } finally {
      trafficOn = false;
      await traffic;
    }
    expect(failures).toEqual([]);
  }, 90_000);

  async function check() {
    // The planner, with source.kind prometheus, decides from real scraped data.
    const decision = await planner!.tick();
    expect(decision, 'the planner made no decision').toBeDefined();
    expect(decision!.observed?.requestRate).toBeGreaterThan(0);
    expect(decision!.observed?.islMean).toBeGreaterThan(0);
    // Its decision is exported, scraped, and visible through Prometheus.
    await waitUntil(
      'the planner scraped',
      async () => (await seriesOf('tandem_planner_desired_replicas')).length > 0,
      15_000,
    );

    const dashboard = JSON.parse(readFileSync('deploy/grafana/tandem-dashboard.json', 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const expressions = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        where: `dashboard panel "${panel.title}"`,
        promql: target.expr.replaceAll('$__rate_interval', RATE_INTERVAL),
      })),
    );
    const adapterFile = parseYaml(readFileSync('deploy/autoscaling/hpa/prometheus-adapter-rules.yaml', 'utf8')) as {
      data: { 'config.yaml': string };
    };
    const rules = (
      parseYaml(adapterFile.data['config.yaml']) as {
        externalRules: { seriesQuery: string; name: { as: string }; metricsQuery: string }[];
      }
    ).externalRules;
    for (const rule of rules) {
      const series = rule.seriesQuery.slice(0, rule.seriesQuery.indexOf('{'));
      expressions.push({ where: `adapter seriesQuery for ${rule.name.as}`, promql: rule.seriesQuery });
      // What prometheus-adapter runs for an HPA in namespace tandem.
      expressions.push({
        where: `adapter metricsQuery for ${rule.name.as}`,
        promql: rule.metricsQuery
          .replaceAll('<<.Series>>', series)
          .replaceAll('<<.LabelMatchers>>', 'namespace="tandem"')
          .replaceAll('<<.GroupBy>>', 'pool'),
      });
    }
    expect(expressions.length).toBeGreaterThan(30);

    // Series that appear a little later (planner metrics after its tick) get a few scrapes.
    const problems: string[] = [];
    for (const { where, promql } of expressions) {
      let answer: QueryAnswer | undefined;
      for (let attempt = 0; attempt < 5; attempt++) {
        answer = await query(promql);
        if (answer.status !== 'success' || (answer.data?.result.length ?? 0) > 0) break;
        await sleep(1000);
      }
      if (answer!.status !== 'success') problems.push(`${where}: ${promql}: does not parse or fails: ${answer!.error}`);
      else if (answer!.data!.result.length === 0 && !ONLY_WITH_REPLICA_SYNC.some((name) => promql.includes(name)))
        problems.push(`${where}: ${promql}: no series`);
    }
    expect(problems, prometheusLog).toEqual([]);
  }
});
