import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../common/config/index.ts';
import { parseDecision } from '../orchestrator/planner-feed/index.ts';
import type { UiEvent } from '../orchestrator/ui/index.ts';
import { createPlannerFromConfig, decisionToJson } from '../planner/index.ts';
import {
  allHealthy,
  complete,
  startFakeFleet,
  waitUntil,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * The status page's server side against a real orchestrator in front of in-process fake
 * workers: the page and its files, the /ui/events stream (history, then snapshots whose numbers
 * follow the traffic), the planner panel in its three states, the per-request log line, and a
 * shutdown that is not held up by open pages.
 */

const cleanups = cleanupsAfter('all');

/** Reads /ui/events until `until` holds of the events so far; aborts the stream when done. */
async function readEvents(url: string, until: (events: UiEvent[]) => boolean, timeoutMs = 15_000): Promise<UiEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timed out reading /ui/events')), timeoutMs);
  const events: UiEvent[] = [];
  try {
    const response = await fetch(`${url}/ui/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, at).replace(/^data: /, '');
        buffer = buffer.slice(at + 2);
        if (data === '[DONE]') return events;
        const event = JSON.parse(data) as UiEvent | { type: 'hello' };
        if (event.type !== 'hello') events.push(event);
        if (until(events)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

async function startPlannerStub(): Promise<{ url: string; server: Server }> {
  const config = parseConfig({});
  if (!config.ok) throw config.error;
  const built = createPlannerFromConfig(config.value);
  if (!built.ok) throw built.error;
  built.value.planner.observe({
    atMs: 1000,
    intervalS: 30,
    requestRate: 40,
    islMean: 3000,
    oslMean: 300,
    prefixHitRate: 0.2,
  });
  const decision = decisionToJson(built.value.planner.decide(1000));
  const server = createServer((request, response) => {
    if (request.url === '/decision')
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(decision));
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${port}`, server };
}

async function fleet(orchestrator: Record<string, unknown> = {}): Promise<RunningOrchestrator> {
  const { running } = await startFakeFleet(
    cleanups,
    2,
    { ui: { interval_s: 0.2, window_s: 5 }, orchestrator: { planner_poll_s: 0.2, ...orchestrator } },
    { tokenDelayMs: 2 },
  );
  await allHealthy(running, ['w0', 'w1']);
  return running;
}

describe('the status page server', () => {
  it('serves the page, its scripts and uPlot from node_modules, and redirects / to it', async () => {
    const running = await fleet();
    const page = await fetch(`${running.url}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    for (const asset of ['/ui/app.js', '/ui/style.css', '/ui/vendor/uPlot.min.css']) expect(html).toContain(asset);
    const uplot = await fetch(`${running.url}/ui/vendor/uPlot.esm.js`);
    expect(uplot.headers.get('content-type')).toContain('javascript');
    expect(await uplot.text()).toContain('export { uPlot as default }');
    for (const path of ['/ui/app.js', '/ui/charts.js', '/ui/format.js'])
      expect((await fetch(`${running.url}${path}`)).status).toBe(200);
    expect((await fetch(`${running.url}/ui/../package.json`)).status).toBe(404);
    const root = await fetch(`${running.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui');
  });

  it('streams the workers, then figures that follow the requests sent, and logs one line per request', async () => {
    const running = await fleet();
    const healthy = (e: UiEvent) =>
      e.snapshot.workers.length === 2 && e.snapshot.workers.every((w) => w.state === 'healthy');
    const opened = await readEvents(running.url, (events) => events.some(healthy));
    expect(opened[0]?.type).toBe('history');
    const first = opened.find(healthy)!;
    expect(first.snapshot.workers.map((w) => w.name).sort()).toEqual(['w0', 'w1']);
    expect(first.snapshot.workers.every((w) => w.gpu === 'h100-sxm' && w.role === 'both' && w.running !== null)).toBe(
      true,
    );
    expect(first.snapshot.pools).toEqual([expect.objectContaining({ role: 'both', workers: 2, healthy: 2 })]);
    expect(first.snapshot.planner.state).toBe('none');

    for (let i = 0; i < 6; i++) {
      const answer = await complete(
        running.url,
        { prompt: `status page request ${i} `.repeat(20), max_tokens: 4 },
        { 'x-request-id': `ui-${i}` },
      );
      expect(answer.status).toBe(200);
    }
    const events = await readEvents(running.url, (seen) =>
      seen.some((e) => (e.snapshot.traffic.requestRate ?? 0) > 0 && e.snapshot.traffic.ttft !== null),
    );
    const moved = events.find((e) => (e.snapshot.traffic.requestRate ?? 0) > 0)!;
    expect(moved.snapshot.traffic.ttft!.p50).toBeGreaterThan(0);
    expect(moved.snapshot.traffic.hitRate).not.toBeNull();
    expect(moved.snapshot.traffic.disaggregatedShare).toBe(0);
    const point = moved.type === 'snapshot' ? moved.point : moved.points.at(-1)!;
    expect(point.fleetBoth).toBe(2);

    const lines = running.logs.filter(
      (line) => typeof line.requestId === 'string' && line.requestId.startsWith('ui-') && line.outcome !== undefined,
    );
    expect(lines.map((line) => line.requestId).sort()).toEqual(['ui-0', 'ui-1', 'ui-2', 'ui-3', 'ui-4', 'ui-5']);
    for (const line of lines) {
      expect(line.level).toBe(30);
      expect(line).toMatchObject({ outcome: 'success', mode: 'aggregated', completionTokens: 4 });
      expect(['w0', 'w1']).toContain((line.workers as string[])[0]);
      expect(typeof line.overlapTokens).toBe('number');
      expect(line.ttftMs).toBeGreaterThan(0);
      expect(typeof line.queuedMs).toBe('number');
      expect(line.msg).toContain(`request ${line.requestId} success aggregated on`);
    }
  });

  it("shows the planner's last decision, and says when the planner cannot be reached", async () => {
    const stub = await startPlannerStub();
    const running = await fleet({ planner_url: stub.url });
    const events = await readEvents(running.url, (seen) => seen.some((e) => e.snapshot.planner.state === 'ok'));
    const planner = events.at(-1)!.snapshot.planner;
    expect(planner.decision!.prefillReplicas).toBeGreaterThan(0);
    expect(planner.decision!.decodeReplicas).toBeGreaterThan(0);
    const later = await readEvents(running.url, (seen) => seen.some((e) => e.type === 'snapshot'));
    const last = later.at(-1)!;
    expect(last.type === 'snapshot' ? last.point.plannerPrefill : null).toBe(planner.decision!.prefillReplicas);

    const unreachable = await fleet({ planner_url: 'http://127.0.0.1:9' });
    const seen = await readEvents(unreachable.url, (evs) =>
      evs.some((e) => e.snapshot.planner.state === 'unreachable'),
    );
    expect(seen.at(-1)!.snapshot.planner.error).toContain('/decision');
  });

  it('ends open pages at shutdown instead of holding the grace period', async () => {
    const running = await fleet();
    const reading = readEvents(running.url, () => false, 30_000);
    await waitUntil('a connected page', () => (running.orchestrator.ui?.subscribers ?? 0) > 0);
    // A ten-minute grace: were the page's stream holding shutdown, the test would time out.
    await running.orchestrator.shutdown(600_000);
    await reading;
    expect(running.orchestrator.ui?.subscribers).toBe(0);
  });
});

describe('the planner decision the page reads', () => {
  it('parses what tandem planner serves on /decision, and rejects what is not a decision', () => {
    const config = parseConfig({});
    if (!config.ok) throw config.error;
    const built = createPlannerFromConfig(config.value);
    if (!built.ok) throw built.error;
    built.value.planner.observe({
      atMs: 5000,
      intervalS: 30,
      requestRate: 10,
      islMean: 2000,
      oslMean: 200,
      prefixHitRate: 0.5,
    });
    const decision = built.value.planner.decide(5000);
    const parsed = parseDecision(JSON.parse(JSON.stringify(decisionToJson(decision))));
    if (!parsed.ok) throw parsed.error;
    expect(parsed.value).toMatchObject({
      atMs: 5000,
      prefillReplicas: decision.prefillReplicas,
      decodeReplicas: decision.decodeReplicas,
      thresholdTokens: decision.disaggregationThresholdTokens,
    });
    expect(parsed.value.pools.map((p) => p.role).sort()).toEqual(['decode', 'prefill']);
    expect(parseDecision({ error: 'no decision yet' }).ok).toBe(false);
    expect(parseDecision('nonsense').ok).toBe(false);
  });
});
