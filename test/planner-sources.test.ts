import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../common/clock.ts';
import { ORCHESTRATOR_METRICS as M } from '../orchestrator/metrics/names.ts';
import { createPrometheusSource, createScrapeSource, prometheusQueries } from '../planner/index.ts';

const pools = [
  { name: 'prefill-h100', role: 'prefill' as const, workerPrefix: 'tandem-prefill-h100' },
  { name: 'prefill-l40s', role: 'prefill' as const, workerPrefix: 'tandem-prefill-l40s' },
  { name: 'decode', role: 'decode' as const, workerPrefix: undefined },
];
const slo = { ttftS: 1, itlS: 0.05 };

async function serve(
  handler: (path: string) => { status: number; type: string; body: string },
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const answer = handler(request.url ?? '/');
    response.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('scrape source against a live /metrics endpoint', () => {
  // The orchestrator's metrics, registered with prom-client under the names it exports.
  const registry = new Registry();
  const requests = new Counter({ name: M.requests, help: 'r', labelNames: ['outcome', 'mode'], registers: [registry] });
  const prompt = new Counter({ name: M.promptTokens, help: 'p', registers: [registry] });
  const cached = new Counter({ name: M.cachedPromptTokens, help: 'c', registers: [registry] });
  const generated = new Counter({ name: M.generationTokens, help: 'g', registers: [registry] });
  const isl = new Histogram({
    name: M.requestPromptTokens,
    help: 'i',
    buckets: [256, 1024, 4096, 16384],
    registers: [registry],
  });
  const osl = new Histogram({
    name: M.requestGenerationTokens,
    help: 'o',
    buckets: [64, 256, 1024],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: M.timeToFirstToken,
    help: 't',
    labelNames: ['mode'],
    buckets: [0.25, 0.5, 1, 2],
    registers: [registry],
  });
  const healthy = new Gauge({
    name: M.workerHealthy,
    help: 'h',
    labelNames: ['worker', 'role'],
    registers: [registry],
  });
  let server: { url: string; close: () => Promise<void> };

  beforeAll(async () => {
    server = await serveRegistry();
  });
  afterAll(() => server.close());

  async function serveRegistry() {
    const httpServer: Server = createServer((_request, response) => {
      void registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const { port } = httpServer.address() as { port: number };
    return { url: `http://127.0.0.1:${port}/metrics`, close: () => closeServer(httpServer) };
  }

  function finish(promptTokens: number, cachedTokens: number, outputTokens: number, ttftS: number) {
    requests.inc({ outcome: 'success', mode: 'disaggregated' });
    prompt.inc(promptTokens);
    cached.inc(cachedTokens);
    generated.inc(outputTokens);
    isl.observe(promptTokens);
    osl.observe(outputTokens);
    ttft.observe({ mode: 'disaggregated' }, ttftS);
  }

  it('takes a baseline first, then reports the interval between scrapes', async () => {
    const clock = createVirtualClock(0);
    const source = createScrapeSource({ url: server.url, timeoutMs: 2000, clock, pools, slo });
    finish(1000, 0, 100, 0.1); // before the baseline: must not count
    healthy.set({ worker: 'tandem-prefill-h100-abc', role: 'prefill' }, 1);
    healthy.set({ worker: 'tandem-prefill-l40s-xyz', role: 'prefill' }, 1);
    healthy.set({ worker: 'tandem-prefill-l40s-uvw', role: 'prefill' }, 1);
    healthy.set({ worker: 'tandem-decode-0', role: 'decode' }, 1);
    expect(await source.collect()).toBeUndefined();
    // 30 s of traffic: 60 requests of 3000 prompt tokens (1000 cached) and 500 output tokens;
    // TTFTs: 54 at 0.4 s, 6 at 1.5 s -> 90% within the 1 s SLO.
    for (let i = 0; i < 60; i++) finish(3000, 1000, 500, i < 54 ? 0.4 : 1.5);
    clock.advance(30_000);
    const observation = await source.collect();
    expect(observation).toBeDefined();
    expect(observation!.requestRate).toBeCloseTo(2, 9);
    expect(observation!.islMean).toBeCloseTo(3000, 9);
    expect(observation!.oslMean).toBeCloseTo(500, 9);
    expect(observation!.prefixHitRate).toBeCloseTo(1 / 3, 9);
    expect(observation!.ttftAttainment).toBeCloseTo(0.9, 9);
    expect(observation!.isl?.counts.at(-1)).toBe(60);
    expect(observation!.pools?.['prefill-h100']?.replicas).toBe(1);
    expect(observation!.pools?.['prefill-l40s']?.replicas).toBe(2);
    expect(observation!.pools?.decode?.replicas).toBe(1);
  });

  it('rejects with the URL when the endpoint is down', async () => {
    const source = createScrapeSource({
      url: 'http://127.0.0.1:1/metrics',
      timeoutMs: 1000,
      clock: createVirtualClock(),
      pools,
      slo,
    });
    await expect(source.collect()).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:1\/metrics/);
  });
});

describe('Prometheus source against a stand-in HTTP API', () => {
  const asked: string[] = [];
  let prometheus: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    const q = prometheusQueries(30);
    const vector = (result: unknown[]) => JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });
    const scalar = (value: number) => vector([{ metric: {}, value: [0, String(value)] }]);
    const answers: Record<string, string> = {
      [q.requestRate!]: scalar(4),
      [q.promptTokens!]: scalar(8000),
      [q.cachedPromptTokens!]: scalar(2000),
      [q.islSum!]: scalar(8000),
      [q.islCount!]: scalar(4),
      [q.oslSum!]: scalar(1200),
      [q.oslCount!]: scalar(4),
      [q.ttftBuckets!]: vector([
        { metric: { le: '0.5' }, value: [0, '2'] },
        { metric: { le: '1' }, value: [0, '3.6'] },
        { metric: { le: '+Inf' }, value: [0, '4'] },
      ]),
      [q.queueDepth!]: scalar(5),
      [q.workers!]: vector([
        { metric: { __name__: M.workerHealthy, worker: 'tandem-decode-1', role: 'decode' }, value: [0, '1'] },
        { metric: { __name__: M.workerInflightRequests, worker: 'tandem-decode-1', role: 'decode' }, value: [0, '9'] },
      ]),
    };
    prometheus = await serve((path) => {
      const url = new URL(path, 'http://x');
      const query = url.searchParams.get('query') ?? '';
      asked.push(`${url.pathname} ${query}`);
      return { status: 200, type: 'application/json', body: answers[query] ?? vector([]) };
    });
  });
  afterAll(() => prometheus.close());

  it('runs the rate and histogram queries and builds an observation from them', async () => {
    const source = createPrometheusSource({
      url: `${prometheus.url}/`,
      windowS: 30,
      timeoutMs: 2000,
      clock: createVirtualClock(5000),
      pools,
      slo,
    });
    const observation = await source.collect();
    expect(asked).toContain(`/api/v1/query sum(rate(${M.requests}[30s]))`);
    expect(asked).toContain(`/api/v1/query sum by (le) (rate(${M.timeToFirstToken}_bucket[30s]))`);
    expect(observation).toMatchObject({
      atMs: 5000,
      requestRate: 4,
      islMean: 2000,
      oslMean: 300,
      prefixHitRate: 0.25,
      queueDepth: 5,
    });
    // p90: rank 3.6 of 4 lands on the 1 s bound; 90% within the SLO.
    expect(observation!.ttftP90S).toBeCloseTo(1, 9);
    expect(observation!.ttftAttainment).toBeCloseTo(0.9, 9);
    expect(observation!.pools?.decode).toEqual({
      replicas: 1,
      inflightRequests: 9,
      queuedPrefillTokens: 0,
      activeKvBlocks: 0,
    });
  });

  it('rejects when Prometheus answers an error', async () => {
    const broken = await serve(() => ({
      status: 200,
      type: 'application/json',
      body: JSON.stringify({ status: 'error', error: 'bad_data: parse error' }),
    }));
    try {
      const source = createPrometheusSource({
        url: broken.url,
        windowS: 30,
        timeoutMs: 2000,
        clock: createVirtualClock(),
        pools,
        slo,
      });
      await expect(source.collect()).rejects.toThrow(/bad_data: parse error/);
    } finally {
      await broken.close();
    }
  });
});
