import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allHealthy,
  MODEL,
  requestLogs,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * Conditional disaggregation, observed per request: a prefill and a decode simulated worker as
 * processes (real gRPC, real KV events into the orchestrator's index) behind the orchestrator in
 * mode `auto` with a threshold of T tokens. A request whose uncached part on the best
 * decode-capable worker is at most T is served aggregated there; one above T is disaggregated.
 * The uncached part is the prompt minus the prefix the decode worker caches, so a long prompt
 * whose prefix the decode worker already holds (pulled by an earlier disaggregated request) is
 * served aggregated. /debug/route predicts each verdict and the request's log line confirms it.
 * The threshold is then retuned at run time, by hand and from a stand-in planner's /decision.
 *
 * Above T the decision also prices both placements (orchestrator/disagg/placement.ts): the
 * decode worker is an L40S and the prefill worker an H100, so even on an idle decode worker a
 * prompt above T prefills sooner remotely (H100 prefill + transfer) than locally, and the
 * threshold is what these verdicts turn on.
 */
const T = 256;
const fleet = createWorkerFleet();
let P: WorkerProcess;
let D: WorkerProcess;
let running: RunningOrchestrator;
let planner: Server;
let plannerThreshold: number | null = null;

beforeAll(async () => {
  [P, D] = await Promise.all([
    fleet.start(['--time-scale', '50', '--role', 'prefill', '--gpu', 'h100-sxm']),
    fleet.start(['--time-scale', '50', '--role', 'decode', '--gpu', 'l40s']),
  ]);
  // A stand-in for the planner's HTTP edge: /decision as planner/decision-json.ts writes it (404 before the first decision).
  planner = createServer((request, response) => {
    if (request.url !== '/decision' || plannerThreshold === null) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        at_ms: Date.now(),
        prefill_replicas: 1,
        decode_replicas: 1,
        disaggregation_threshold_tokens: plannerThreshold,
      }),
    );
  });
  await new Promise<void>((resolve) => planner.listen(0, '127.0.0.1', resolve));
  const plannerUrl = `http://127.0.0.1:${(planner.address() as AddressInfo).port}`;
  const workers = [
    { name: 'p0', role: 'prefill', address: P.ready.grpc },
    { name: 'd0', role: 'decode', address: D.ready.grpc },
  ];
  running = await startOrchestrator(
    testConfig(workers, {
      disaggregation: { mode: 'auto', threshold_tokens: T },
      orchestrator: { planner_url: plannerUrl, planner_poll_s: 0.1 },
    }),
  );
  await allHealthy(running, ['p0', 'd0']);
});

afterAll(async () => {
  await running?.close();
  await fleet.stopAll();
  planner?.closeAllConnections();
  await new Promise((resolve) => planner?.close(resolve));
});

/** Token ids from a range no other prompt uses (distinct ranges share no block). */
const fresh = (count: number, start: number) => Array.from({ length: count }, (_, i) => start + i);

interface Verdict {
  readonly promptTokens: number;
  readonly uncached: number;
  readonly predicted: string;
  readonly served: string;
}

/** Asks /debug/route, then serves the prompt and reads the mode it was served in from the request's log line. */
async function serve(requestId: string, prompt: number[]): Promise<Verdict> {
  const body = { model: MODEL, prompt, max_tokens: 4, temperature: 0 };
  const route = (await (
    await fetch(`${running.url}/debug/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json()) as { decision: { mode: string; disaggregation: { uncachedTokens: number } } };
  const response = await fetch(`${running.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  const [line] = requestLogs(running, requestId);
  return {
    promptTokens: prompt.length,
    uncached: route.decision.disaggregation.uncachedTokens,
    predicted: route.decision.mode,
    served: line!.mode as string,
  };
}

describe(`mode auto with a threshold of ${T} tokens`, () => {
  it('serves prompts whose uncached part is at most T aggregated and those above T disaggregated', async () => {
    const verdicts: Verdict[] = [];
    for (const [i, length] of [40, 150, 250, 256, 257, 300, 700].entries())
      verdicts.push(await serve(`cold-${i}`, fresh(length, 10_000 * (i + 1))));
    for (const v of verdicts) {
      expect(v.uncached).toBe(v.promptTokens); // cold caches: nothing is cached anywhere
      expect(v.served).toBe(v.uncached > T ? 'disaggregated' : 'aggregated');
      expect(v.predicted).toBe(v.served);
    }
    expect(verdicts.map((v) => v.served)).toEqual([
      'aggregated',
      'aggregated',
      'aggregated',
      'aggregated',
      'disaggregated',
      'disaggregated',
      'disaggregated',
    ]);
  });

  it('counts only the part the decode worker does not cache: a long prompt with a cached prefix stays aggregated', async () => {
    const prefix = fresh(800, 80_000);
    const first = await serve('prefix-0', [...prefix, ...fresh(20, 90_000)]);
    expect(first.served).toBe('disaggregated');
    // The decode worker pulled the prefix; its KV events tell the index.
    await waitFor(
      () => running.orchestrator.routing.index.indexedBlocks('d0'),
      (blocks) => blocks >= 50,
      10_000,
      "the decode worker's blocks in the index",
    );
    const short = await serve('prefix-1', [...prefix, ...fresh(100, 100_000)]);
    const long = await serve('prefix-2', [...prefix, ...fresh(400, 110_000)]);
    expect(short).toMatchObject({ promptTokens: 900, served: 'aggregated', predicted: 'aggregated' });
    expect(short.uncached).toBeLessThanOrEqual(T);
    expect(long).toMatchObject({ promptTokens: 1200, served: 'disaggregated', predicted: 'disaggregated' });
    expect(long.uncached).toBeGreaterThan(T);
    expect(long.uncached).toBeLessThan(420);
  });

  it("follows a threshold retuned at run time, by hand and from the planner's /decision", async () => {
    const prompt = fresh(600, 120_000);
    expect((await serve('retune-0', prompt)).served).toBe('disaggregated');
    running.orchestrator.dispatcher.setThresholdTokens(5000);
    expect((await serve('retune-1', fresh(600, 130_000))).served).toBe('aggregated');
    expect(() => running.orchestrator.dispatcher.setThresholdTokens(-1)).toThrow(/non-negative/);
    plannerThreshold = 100;
    await waitFor(
      () => running.orchestrator.dispatcher.thresholdTokens,
      (t) => t === 100,
      5000,
      "the planner's threshold",
    );
    expect((await serve('retune-2', fresh(150, 140_000))).served).toBe('disaggregated');
    expect(
      running.logs.some((l) => l.msg === 'disaggregation threshold set by the planner' && l.thresholdTokens === 100),
    ).toBe(true);
  });

  it('leaves no blocks held on the prefill worker', async () => {
    await waitFor(
      () => P.grpc.getStatus({}),
      (s) => s.heldBlocks === 0 && s.runningRequests === 0,
      10_000,
      'the prefill worker idle',
    );
    await waitFor(
      () => D.grpc.getStatus({}),
      (s) => s.usedBlocks === 0 && s.runningRequests === 0,
      10_000,
      'the decode worker idle',
    );
  });
});
