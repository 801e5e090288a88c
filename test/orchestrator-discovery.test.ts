import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createKvEventSubscriber } from '../orchestrator/kv-events/index.ts';
import type { WorkerSnapshot } from '../orchestrator/discovery/index.ts';
import {
  allHealthy,
  complete,
  sample,
  startFakeFleet,
  startOrchestrator,
  startWorkers,
  testConfig,
  waitUntil,
  workerEntries,
  workerState,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * Discovery and health with a real orchestrator in front of fake gRPC workers (real sockets,
 * real KV events over ZMQ): ejection and readmission, config reloads, block-size mismatches,
 * engine restarts, and the KV-event wiring into the index.
 */

const cleanups = cleanupsAfter('each');

const fleet = (
  n: number,
  overrides: Parameters<typeof testConfig>[1] = {},
  workerOptions: Parameters<typeof startWorkers>[1] = {},
) => startFakeFleet(cleanups, n, overrides, workerOptions);

const snapshotOf = (running: RunningOrchestrator, name: string): WorkerSnapshot => {
  const found = running.orchestrator.fleet.snapshot().find((w) => w.name === name);
  if (!found) throw new Error(`no worker ${name}`);
  return found;
};
const debugWorkers = async (running: RunningOrchestrator) =>
  (await (await fetch(`${running.url}/debug/workers`)).json()) as WorkerSnapshot[];
const metricsText = async (running: RunningOrchestrator) => (await fetch(`${running.url}/metrics`)).text();

describe('health checks', () => {
  it('ejects a worker after failure_threshold failed checks, routes around it, and readmits it after success_threshold good ones', async () => {
    const { workers, running } = await fleet(2);
    await allHealthy(running, ['w0', 'w1']);
    expect((await fetch(`${running.url}/ready`)).status).toBe(200);

    workers[1]!.behaviour.statusFails = true;
    const callsAtFailure = workers[1]!.statusCalls;
    await waitUntil('w1 ejected', () => workerState(running, 'w1') === 'ejected');
    // Threshold 2: at least two failed checks were needed.
    expect(workers[1]!.statusCalls - callsAtFailure).toBeGreaterThanOrEqual(2);
    expect(snapshotOf(running, 'w1').health).toMatchObject({ state: 'ejected', ejections: 1 });
    expect(sample(await metricsText(running), 'tandem_worker_healthy{worker="w1",role="both"}')).toBe(0);
    expect(running.logs.some((l) => l.level === 40 && /w1: healthy -> ejected/.test(l.msg))).toBe(true);

    const before = workers[1]!.calls.length;
    for (let i = 0; i < 6; i++)
      expect((await complete(running.url, { prompt: `request ${i} `.repeat(i + 1), max_tokens: 2 })).status).toBe(200);
    expect(workers[1]!.calls.length).toBe(before);
    expect(workers[0]!.calls.length).toBeGreaterThanOrEqual(6);

    workers[1]!.behaviour.statusFails = false;
    await waitUntil('w1 readmitted', () => workerState(running, 'w1') === 'healthy');
    expect(snapshotOf(running, 'w1').health.consecutiveSuccesses).toBeGreaterThanOrEqual(2);
    expect(sample(await metricsText(running), 'tandem_worker_healthy{worker="w1",role="both"}')).toBe(1);
  });

  it('is not ready while no worker answers, and says why', async () => {
    const { workers, running } = await fleet(1);
    await allHealthy(running, ['w0']);
    workers[0]!.behaviour.statusFails = true;
    await waitUntil('w0 ejected', () => workerState(running, 'w0') === 'ejected');
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { detail: string }).detail).toContain('1 ejected');
    const refused = await complete(running.url, { prompt: 'hello', max_tokens: 2 });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
  });
});

describe('the worker set from config', () => {
  it('adds and removes workers on reload without dropping running requests', async () => {
    const { workers, running } = await fleet(2, {}, { tokenDelayMs: 30 });
    const [extra] = await startWorkers(1);
    cleanups.push(() => extra!.close());
    await allHealthy(running, ['w0', 'w1']);

    // Two long requests, one on each worker (round-robin-like spread of two fresh prompts).
    const long = [0, 1].map((i) =>
      complete(running.url, { prompt: `long request number ${i} `.repeat(20), max_tokens: 40 }),
    );
    await waitUntil('both workers running', () => workers[0]!.running === 1 && workers[1]!.running === 1);
    await waitUntil('w1 indexed', () => running.orchestrator.routing.index.indexedBlocks('w1') > 0);

    const change = running.orchestrator.reload(
      running.configWith({
        workers: [
          { name: 'w0', address: workers[0]!.address },
          { name: 'w2', address: extra!.address },
        ],
      }),
    );
    expect(change.workers).toEqual({ added: ['w2'], removed: ['w1'], changed: [] });
    expect(change.ignored).toEqual([]);
    expect(
      running.orchestrator.fleet
        .snapshot()
        .map((w) => w.name)
        .sort(),
    ).toEqual(['w0', 'w2']);
    // The removed worker is drained: no longer a candidate, its running request finishes, and
    // only then do its index entries go.
    expect(running.orchestrator.fleet.candidates().map((c) => c.id)).not.toContain('w1');
    expect(running.orchestrator.routing.index.workerStats('w1')).toBeDefined();
    const results = await Promise.all(long);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results.map((r) => r.json.usage.completion_tokens)).toEqual([40, 40]);
    expect(workers.map((w) => w.calls[0]!.end)).toEqual(['done', 'done']);
    await waitUntil(
      'w1 forgotten once drained',
      () => running.orchestrator.routing.index.workerStats('w1') === undefined,
    );

    await allHealthy(running, ['w2']);
    expect((await debugWorkers(running)).map((w) => w.name).sort()).toEqual(['w0', 'w2']);
    expect(await metricsText(running)).not.toContain('worker="w1"');
  });

  it('replaces a worker whose entry changed, leaving the others alone', async () => {
    const { workers, running } = await fleet(2);
    await allHealthy(running, ['w0', 'w1']);
    const reload = running.orchestrator.reload(
      running.configWith({
        workers: [
          { name: 'w0', address: workers[0]!.address },
          { name: 'w1', address: workers[1]!.address, gpu: 'a100-80g' },
        ],
      }),
    );
    expect(reload.workers).toEqual({ added: [], removed: [], changed: ['w1'] });
    await allHealthy(running, ['w1']);
    expect(snapshotOf(running, 'w0').health.sinceMs).not.toBeNull();
    // The worker announces its own profile, which wins over the new hint.
    expect(snapshotOf(running, 'w1').profile).toMatchObject({ gpu: 'h100-sxm', source: 'announced' });
  });

  it('names the sections a reload cannot apply', async () => {
    const { workers, running } = await fleet(1);
    const result = running.orchestrator.reload(
      running.configWith({ routing: { policy: 'round-robin' }, workers: workerEntries(workers) }),
    );
    expect(result.workers).toBeNull();
    expect(result.ignored).toEqual(['routing']);
    expect(running.logs.some((l) => l.level === 40 && l.msg.includes('need a restart'))).toBe(true);
  });
});

describe('block sizes', () => {
  it('refuses a worker whose block size differs from routing.block_size, loudly, until they agree', async () => {
    const { workers, running } = await fleet(2);
    workers[1]!.behaviour.announcedBlockSize = 32;
    await waitUntil('w1 flagged', () => workerState(running, 'w1') === 'block-size-mismatch');
    await allHealthy(running, ['w0']);

    const errors = running.logs.filter(
      (l) => l.level === 50 && l.msg.includes('w1 uses KV blocks of 32 tokens but routing.block_size is 16'),
    );
    expect(errors).toHaveLength(1);
    const debug = (await debugWorkers(running)).find((w) => w.name === 'w1')!;
    expect(debug).toMatchObject({
      state: 'block-size-mismatch',
      blockSize: { expected: 16, announced: 32, mismatch: true },
    });
    const text = await metricsText(running);
    expect(sample(text, 'tandem_worker_block_size_mismatch{worker="w1"}')).toBe(1);
    expect(sample(text, 'tandem_worker_block_size_mismatch{worker="w0"}')).toBe(0);
    expect(sample(text, 'tandem_worker_healthy{worker="w1",role="both"}')).toBe(0);

    const { decision: route } = await (
      await fetch(`${running.url}/debug/route`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'Qwen/Qwen3-8B', prompt: 'hi' }),
      })
    ).json();
    expect(route.candidates.map((c: { id: string }) => c.id)).toEqual(['w0']);
    expect(route.notRouted).toEqual([
      { worker: 'w1', state: 'block-size-mismatch', reason: 'KV block size 32 differs from routing.block_size 16' },
    ]);
    for (let i = 0; i < 4; i++)
      expect((await complete(running.url, { prompt: `p${i}`, max_tokens: 1 })).status).toBe(200);
    expect(workers[1]!.calls).toHaveLength(0);

    workers[1]!.behaviour.announcedBlockSize = 16;
    await allHealthy(running, ['w1']);
    expect(sample(await metricsText(running), 'tandem_worker_block_size_mismatch{worker="w1"}')).toBe(0);
  });
});

describe('KV events', () => {
  it("feeds each worker's KV events into the index and shows the subscriber in /debug/workers", async () => {
    const { workers, running } = await fleet(1);
    await allHealthy(running, ['w0']);
    const prompt = 'the same long prompt '.repeat(30);
    expect((await complete(running.url, { prompt, max_tokens: 1 })).status).toBe(200);
    await waitUntil('blocks indexed', () => running.orchestrator.routing.index.indexedBlocks('w0') > 0);
    const rank = snapshotOf(running, 'w0').ranks[0] as {
      events: { endpoint: string; lastSeq: string | null; stats: { batchesDelivered: number } } | null;
      indexedBlocks: number;
    };
    expect(rank.events).toMatchObject({ endpoint: workers[0]!.kvEndpoint, lastSeq: '0' });
    expect(rank.indexedBlocks).toBe(workers[0]!.cache.size);
    // /debug/workers is plain JSON: the bigint sequence travels as a string.
    const over = (await debugWorkers(running))[0] as unknown as { ranks: { events: { lastSeq: unknown } }[] };
    expect(over.ranks[0]!.events.lastSeq).toBe('0');
    const text = await metricsText(running);
    expect(sample(text, 'tandem_kv_events_applied_total{worker="w0"}')).toBe(1);
    expect(sample(text, 'tandem_worker_indexed_blocks{worker="w0"}')).toBe(workers[0]!.cache.size);
    // The second time, the worker reports the hit the index predicted.
    const again = await complete(running.url, { prompt, max_tokens: 1 });
    expect(again.json.usage.prompt_tokens_details.cached_tokens).toBe(workers[0]!.calls[1]!.cachedTokens);
    expect(workers[0]!.calls[1]!.cachedTokens).toBeGreaterThan(0);
  });

  it('counts a sequence gap, replays it, and ends with the same index as without the loss', async () => {
    const workers = await startWorkers(1);
    cleanups.push(() => workers[0]!.close());
    // Fault injection: the subscriber loses the worker's second batch on the wire.
    const running = await startOrchestrator(testConfig(workerEntries(workers)), {
      createSubscriber: (options) => createKvEventSubscriber({ ...options, dropOnReceipt: (seq) => seq === 1n }),
    });
    cleanups.push(() => running.close());
    await allHealthy(running, ['w0']);
    for (const [i, prompt] of [
      'first prompt '.repeat(20),
      'second prompt '.repeat(20),
      'third prompt '.repeat(20),
    ].entries()) {
      expect((await complete(running.url, { prompt, max_tokens: 1 })).status).toBe(200);
      if (i < 2) await sleep(50);
    }
    await waitUntil(
      'all blocks indexed',
      () => running.orchestrator.routing.index.indexedBlocks('w0') === workers[0]!.cache.size,
    );
    const events = (
      snapshotOf(running, 'w0').ranks[0] as {
        events: { lastSeq: string; stats: { gaps: number; replays: number; droppedByFaultInjection: number } };
      }
    ).events;
    expect(events).toMatchObject({ lastSeq: '2', stats: { gaps: 1, replays: 1, droppedByFaultInjection: 1 } });
    const text = await metricsText(running);
    expect(sample(text, 'tandem_kv_event_gaps_total{worker="w0"}')).toBe(1);
    expect(sample(text, 'tandem_kv_events_applied_total{worker="w0"}')).toBe(3);
  });

  it("forgets a worker's blocks when its engine_id changes, and follows its new publisher", async () => {
    const { workers, running } = await fleet(1);
    await allHealthy(running, ['w0']);
    expect((await complete(running.url, { prompt: 'before the restart '.repeat(20), max_tokens: 1 })).status).toBe(200);
    await waitUntil('blocks indexed', () => running.orchestrator.routing.index.indexedBlocks('w0') > 0);

    await workers[0]!.restart();
    await waitUntil('restart noticed', () => snapshotOf(running, 'w0').restarts === 1);
    expect(running.orchestrator.routing.index.indexedBlocks('w0')).toBe(0);
    expect(running.orchestrator.routing.index.workerStats('w0')?.lastClearReason).toBe(
      'engine restarted (engine_id changed)',
    );
    // Following the new publisher (announced in the new incarnation's status).
    await waitUntil('subscribed to the new publisher', () => {
      const events = (snapshotOf(running, 'w0').ranks[0] as { events: { endpoint: string; connected: boolean } | null })
        .events;
      return events !== null && events.endpoint === workers[0]!.kvEndpoint && events.connected;
    });
    await allHealthy(running, ['w0']);

    expect((await complete(running.url, { prompt: 'after the restart '.repeat(20), max_tokens: 1 })).status).toBe(200);
    await waitUntil(
      'new blocks indexed',
      () => running.orchestrator.routing.index.indexedBlocks('w0') === workers[0]!.cache.size,
    );
  });
});
