import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { createRng } from '../common/rng.ts';
import type { FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { allHealthy, MODEL, sample, startFakeFleet, tokenizer, waitUntil } from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * End to end: the official `openai` client -> the real frontend -> the dispatcher -> four
 * workers over gRPC whose prefix caches publish real vLLM KV events over ZMQ into the
 * orchestrator's index. A shared-prefix workload (16 groups sharing a long prefix, 5 requests
 * each, in a seeded random order; even groups chat, odd groups completions, streaming and not)
 * runs once with the `kv` policy and once with `round-robin` on fresh fleets. Each worker's
 * cache holds about five of the sixteen prefixes, so where a request lands decides whether its
 * prefix is a hit.
 *
 * The workers are in-process fakes (test/fakes/fake-grpc-worker.ts). To run this against the
 * simulated worker processes, replace `startWorkers` with a launcher of `tandem worker`
 * processes: the assertions read only the HTTP responses and each worker's own record of the
 * hit (`calls[].cachedTokens`), which the real worker reports as usage.cached_prompt_tokens.
 */

const GROUPS = 16;
const PER_GROUP = 5;
/** Prefixes a worker's cache holds (the rest of its capacity goes to the questions' own blocks). */
const PREFIXES_PER_WORKER = 5.5;

interface Outcome {
  readonly group: number;
  readonly requestId: string;
  readonly promptTokens: number;
  readonly cachedTokens: number;
}

interface PolicyRun {
  readonly outcomes: Outcome[];
  readonly hitRate: number;
  /** Per request id, the worker that served it. */
  readonly servedBy: Map<string, number>;
  readonly workers: FakeGrpcWorker[];
  /** tandem_cached_prompt_tokens_total / tandem_prompt_tokens_total from the orchestrator's /metrics. */
  readonly metricsHitRate: number;
}

const systemPrompt = (group: number) =>
  `You are assistant number ${group} of the Tandem test fleet. ` +
  `Group ${group} keeps this long shared context about topic ${group * 7919} so that its prompts share a prefix. `.repeat(
    12,
  );

const cleanups = cleanupsAfter('all');

async function runWorkload(policy: string, indexMode: 'precise' | 'approximate' = 'precise'): Promise<PolicyRun> {
  const prefixTokens = (await (await tokenizer()).tokenizer.encode(systemPrompt(GROUPS), { addSpecialTokens: false }))
    .length;
  const capacityBlocks = Math.floor((PREFIXES_PER_WORKER * prefixTokens) / 16);
  const { workers, running } = await startFakeFleet(
    cleanups,
    4,
    { routing: { policy, index_mode: indexMode } },
    { blockSize: 16, capacityBlocks, tokenDelayMs: 1 },
  );
  await allHealthy(running, ['w0', 'w1', 'w2', 'w3']);
  const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });

  const order = createRng(`e2e-${GROUPS}`).shuffle(Array.from({ length: GROUPS * PER_GROUP }, (_, i) => i % GROUPS));

  const outcomes: Outcome[] = [];
  for (const [n, group] of order.entries()) {
    const requestId = `${policy}-${n}`;
    const question = `Question ${n}: what is ${n} times ${group}?`;
    const options = { headers: { 'x-request-id': requestId } };
    let usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null } | undefined;
    // Every shape the frontend serves: chat (even groups) and completions (odd), streaming and not.
    switch ((group % 2) * 2 + (n % 2)) {
      case 0: {
        const r = await client.chat.completions.create(
          {
            model: MODEL,
            messages: [
              { role: 'system', content: systemPrompt(group) },
              { role: 'user', content: question },
            ],
            max_tokens: 4,
          },
          options,
        );
        usage = r.usage;
        break;
      }
      case 1: {
        const s = await client.chat.completions.create(
          {
            model: MODEL,
            messages: [
              { role: 'system', content: systemPrompt(group) },
              { role: 'user', content: question },
            ],
            max_tokens: 4,
            stream: true,
            stream_options: { include_usage: true },
          },
          options,
        );
        for await (const chunk of s) if (chunk.usage) usage = chunk.usage;
        break;
      }
      case 2: {
        const r = await client.completions.create(
          { model: MODEL, prompt: `${systemPrompt(group)}\n${question}`, max_tokens: 4 },
          options,
        );
        usage = r.usage;
        break;
      }
      default: {
        const s = await client.completions.create(
          {
            model: MODEL,
            prompt: `${systemPrompt(group)}\n${question}`,
            max_tokens: 4,
            stream: true,
            stream_options: { include_usage: true },
          },
          options,
        );
        for await (const chunk of s) if (chunk.usage) usage = chunk.usage;
      }
    }
    expect(usage, requestId).toBeDefined();
    outcomes.push({
      group,
      requestId,
      promptTokens: usage!.prompt_tokens,
      cachedTokens: usage!.prompt_tokens_details?.cached_tokens ?? 0,
    });
    // Events reach the index within milliseconds; wait for them so the run is repeatable.
    if (indexMode === 'precise')
      await waitUntil(
        'KV events applied',
        () => workers.every((w, i) => running.orchestrator.routing.index.indexedBlocks(`w${i}`) === w.cache.size),
        5000,
      );
  }

  const servedBy = new Map<string, number>();
  workers.forEach((w, i) => w.calls.forEach((c) => servedBy.set(c.requestId, i)));
  const prompt = outcomes.reduce((n, o) => n + o.promptTokens, 0);
  const cached = outcomes.reduce((n, o) => n + o.cachedTokens, 0);
  const text = await (await fetch(`${running.url}/metrics`)).text();
  const metricsHitRate =
    sample(text, 'tandem_cached_prompt_tokens_total')! / sample(text, 'tandem_prompt_tokens_total')!;
  return { outcomes, hitRate: cached / prompt, servedBy, workers, metricsHitRate };
}

describe('end to end: openai client -> orchestrator -> four workers with real KV events', () => {
  let kv: PolicyRun;
  let roundRobin: PolicyRun;

  it('serves the shared-prefix workload with the kv policy', async () => {
    kv = await runWorkload('kv');
    expect(kv.outcomes).toHaveLength(GROUPS * PER_GROUP);
  });

  it('reports in usage.cached_tokens exactly the hit each worker had', () => {
    for (const run of [kv]) {
      for (const o of run.outcomes) {
        const worker = run.workers[run.servedBy.get(o.requestId)!]!;
        const call = worker.calls.find((c) => c.requestId === o.requestId)!;
        expect(o.cachedTokens, o.requestId).toBe(call.cachedTokens);
        expect(o.promptTokens).toBe(call.tokenIds.length);
      }
      // The hit rate is one division of the orchestrator's own counters.
      expect(run.metricsHitRate).toBeCloseTo(run.hitRate, 10);
    }
  });

  it('sends requests that share a prefix to the worker that holds it', () => {
    let followers = 0;
    let stayed = 0;
    for (let group = 0; group < GROUPS; group++) {
      const served = kv.outcomes.filter((o) => o.group === group).map((o) => kv.servedBy.get(o.requestId));
      followers += served.length - 1;
      stayed += served.slice(1).filter((w) => w === served[0]).length;
    }
    expect(stayed / followers).toBeGreaterThanOrEqual(0.9);
    // ...without piling the groups onto one worker.
    const perWorker = kv.workers.map((w) => w.calls.length);
    expect(Math.min(...perWorker)).toBeGreaterThanOrEqual(10);
  });

  it("has a hit rate far above round-robin's on the same workload", async () => {
    roundRobin = await runWorkload('round-robin');
    console.log(
      `prefix-cache hit rate: kv ${(kv.hitRate * 100).toFixed(1)}%, round-robin ${(roundRobin.hitRate * 100).toFixed(1)}%`,
    );
    // The upper bound is ~(80 - 16) / 80 of the shared-prefix share of the tokens.
    expect(kv.hitRate).toBeGreaterThan(0.6);
    expect(kv.hitRate).toBeGreaterThan(2 * roundRobin.hitRate);
  });

  it('keeps most of the hits from its own decisions alone when workers publish no events (approximate mode)', async () => {
    const approximate = await runWorkload('kv', 'approximate');
    console.log(`prefix-cache hit rate: kv approximate ${(approximate.hitRate * 100).toFixed(1)}%`);
    expect(approximate.hitRate).toBeGreaterThan(2 * roundRobin.hitRate);
  });
});
