import { describe, expect, it } from 'vitest';
import type { WorkerSnapshot } from '../orchestrator/discovery/index.ts';
import { startFakeVllmServer, type FakeVllmServer } from './fakes/fake-vllm-server.ts';
import {
  complete,
  sample,
  startOrchestrator,
  testConfig,
  waitUntil,
  workerState,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * The orchestrator in front of a vLLM server (the vllm-http backend) with two data-parallel
 * engines: each engine is its own routing tenant with the load vLLM's /metrics reports for it,
 * requests are pinned with X-data-parallel-rank, and /health drives ejection.
 */

const cleanups = cleanupsAfter('each');

async function start(
  serverOptions: Parameters<typeof startFakeVllmServer>[0] = {},
): Promise<{ server: FakeVllmServer; running: RunningOrchestrator }> {
  const server = await startFakeVllmServer({ servedModel: 'org/served-name', engines: 2, ...serverOptions });
  cleanups.push(() => server.close());
  server.behaviour.running = 1;
  server.behaviour.waiting = 0;
  const running = await startOrchestrator(
    testConfig([
      { name: 'v0', backend: 'vllm-http', address: server.url, data_parallel_size: 2, gpu: 'l40s', model: 'qwen3-8b' },
    ]),
  );
  cleanups.push(() => running.close());
  return { server, running };
}

describe('a vLLM server behind the orchestrator', () => {
  it('routes to each data-parallel engine as its own tenant, pinned with X-data-parallel-rank', async () => {
    const { server, running } = await start();
    await waitUntil('v0 healthy', () => workerState(running, 'v0') === 'healthy');
    const [v0] = (await (await fetch(`${running.url}/debug/workers`)).json()) as WorkerSnapshot[];
    expect(v0).toMatchObject({
      backend: 'vllm-http',
      engineKind: 'vllm',
      profile: { gpu: 'l40s', model: 'qwen3-8b', source: 'config' },
      blockSize: { announced: 16, mismatch: false },
    });
    expect(
      (v0!.ranks as { tenant: string; load: { inflightRequests: number } }[]).map((r) => [
        r.tenant,
        r.load.inflightRequests,
      ]),
    ).toEqual([
      ['v0', 1],
      ['v0@1', 1],
    ]);

    for (let i = 0; i < 6; i++) {
      const result = await complete(running.url, { prompt: `vllm request ${i} `.repeat(i + 1), max_tokens: 3 });
      expect(result.status).toBe(200);
      expect(result.json.usage.completion_tokens).toBe(3);
    }
    const ranks = server.requests.map((r) => r.headers['x-data-parallel-rank']);
    expect(new Set(ranks)).toEqual(new Set(['0', '1']));
    for (const r of server.requests) {
      expect(r.body.model).toBe('org/served-name');
      // The client's own body: its text prompt, no return_token_ids (pass-through reads no token ids).
      expect(typeof r.body.prompt).toBe('string');
      expect(r.body).not.toHaveProperty('return_token_ids');
    }
    const text = await (await fetch(`${running.url}/metrics`)).text();
    expect(sample(text, 'tandem_worker_healthy{worker="v0@1",role="both"}')).toBe(1);
  });

  it('ejects the server when /health fails and readmits it when it recovers', async () => {
    const { server, running } = await start();
    await waitUntil('v0 healthy', () => workerState(running, 'v0') === 'healthy');
    server.behaviour.healthStatus = 503;
    await waitUntil('v0 ejected', () => workerState(running, 'v0') === 'ejected');
    expect((await complete(running.url, { prompt: 'anyone?', max_tokens: 2 })).status).toBe(503);
    server.behaviour.healthStatus = 200;
    await waitUntil('v0 readmitted', () => workerState(running, 'v0') === 'healthy');
    expect((await complete(running.url, { prompt: 'back', max_tokens: 2 })).status).toBe(200);
  });

  it('keeps a server whose cache_config_info block size differs out of routing', async () => {
    const { server, running } = await start({ blockSize: 32 });
    await waitUntil('v0 flagged', () => workerState(running, 'v0') === 'block-size-mismatch');
    expect((await complete(running.url, { prompt: 'nowhere to go', max_tokens: 2 })).status).toBe(503);
    expect(server.requests).toHaveLength(0);
    expect(running.logs.some((l) => l.level === 50 && l.msg.includes('v0 uses KV blocks of 32 tokens'))).toBe(true);
  });
});
