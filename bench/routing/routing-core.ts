/**
 * Routing-core benchmark (not a test): index ingest rate, then hashing + index lookup + policy
 * for 8k-token prompts over 64 workers with ~1M indexed blocks, the real router end to end
 * (`router.route`, kv policy, precise index). Goals: ingest >= 500k blocks/s; decision p50 <=
 * 250 us, p99 <= 1 ms on the 2-core dev machine.
 *
 *   npx tsx bench/routing/routing-core.ts [--policy kv] [--decisions 10000] [--json]
 */
import { cpus, loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { realClock } from '../../common/clock.ts';
import { parseConfig } from '../../common/config/index.ts';
import { engineProfile } from '../../common/profiles/index.ts';
import { createRng } from '../../common/rng.ts';
import { createBlockHasher } from '../../orchestrator/hashing/index.ts';
import { createRoutingCore, type Candidate, type RouteRequest } from '../../orchestrator/routing/index.ts';
import { buildFixture, type Fixture } from './fixture.ts';

const { values: args } = parseArgs({
  options: {
    policy: { type: 'string', default: 'kv' },
    decisions: { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  },
});

// A full collection between phases, so decisions are not charged for the fixture's garbage.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

const WORKERS = 64;
const BLOCK = 16;
const PROMPT_BLOCKS = 512; // 8192 tokens
const parsed = parseConfig({ routing: { policy: args.policy } });
if (!parsed.ok) throw parsed.error;
const config = parsed.value.routing;
const rng = createRng('routing-core-bench');

// ~1.04M distinct blocks: 64 system prompts of 64 blocks, 2300 documents of 512 blocks.
let fixture: Fixture | null = buildFixture(rng.fork('fixture'), {
  workers: WORKERS,
  blockSize: BLOCK,
  documents: 2300,
  blocksPerDocument: PROMPT_BLOCKS,
  systemPrompts: 64,
  systemBlocks: 64,
  blocksPerEvent: 32,
});

const { router, index, load } = createRoutingCore(config, { clock: realClock });
const gpus = ['h100-sxm', 'h200', 'a100-80g', 'l40s'];
const candidates: Candidate[] = fixture.workerIds.map((id, i) => ({
  id,
  role: 'both',
  profile: engineProfile(gpus[i % gpus.length]!, 'qwen3-8b'),
  blockSize: BLOCK,
  healthy: true,
}));
for (const c of candidates) index.registerWorker(c.id, { blockSize: c.blockSize });

// Queries: a cached document whole (walk all 512 blocks), a document diverging at a random
// block, and a new prompt behind a shared system prompt (64 blocks, then a miss). Built before
// ingest so the fixture's event data can be dropped before decisions are timed.
function buildQueries(docs: readonly number[][], systems: readonly number[][]): RouteRequest[] {
  const fresh = (n: number) => Array.from({ length: n }, () => rng.int(151_936));
  return Array.from({ length: 512 }, (): RouteRequest => {
    const kind = rng.int(3);
    if (kind === 0) return { tokenIds: [...rng.pick(docs)] };
    if (kind === 1) {
      const doc = rng.pick(docs);
      const cut = rng.int(PROMPT_BLOCKS) * BLOCK;
      return { tokenIds: [...doc.slice(0, cut), ...fresh(doc.length - cut)] };
    }
    return { tokenIds: [...rng.pick(systems), ...fresh((PROMPT_BLOCKS - 64) * BLOCK)] };
  });
}
const queries = buildQueries(fixture.documents, fixture.systemPrompts);

// ---- ingest ----
collect();
const ingestStart = performance.now();
for (const { worker, batch } of fixture.batches) index.applyBatch(worker, batch);
const ingestSeconds = (performance.now() - ingestStart) / 1000;
const storedBlocks = fixture.storedBlocks;
fixture = null; // only the index and the queries stay live
collect();
const indexed = index.stats().blocks;
const heapMb = process.memoryUsage().heapUsed / 2 ** 20;

// ---- decisions ----

const decisions = Number(args.decisions);
const times = new Float64Array(decisions);
const open: number[] = [];
let matchedBlocks = 0;
const run = (n: number, record: boolean) => {
  for (let i = 0; i < n; i++) {
    const request = queries[i % queries.length]!;
    const start = performance.now();
    const decision = router.route(request, candidates);
    const elapsed = performance.now() - start;
    if (record) {
      times[i] = elapsed;
      matchedBlocks += Math.max(...decision.candidates.map((c) => c.overlapBlocks));
    }
    // Keep a realistic load: commit, first token soon, stream end after 256 more requests.
    const booking = router.commit(decision);
    open.push(booking);
    load.firstToken(booking, realClock.now());
    if (open.length > 256) load.release(open.shift()!);
  }
};
run(2000, false);
// Garbage-collection pauses during the timed decisions, to tell them apart from CPU contention.
let gcPauses = 0;
let gcMs = 0;
let gcMaxMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcPauses++;
    gcMs += entry.duration;
    gcMaxMs = Math.max(gcMaxMs, entry.duration);
  }
});
gcObserver.observe({ entryTypes: ['gc'] });
const decisionsStart = performance.now();
run(decisions, true);
const decisionsMs = performance.now() - decisionsStart;
await new Promise((resolve) => setTimeout(resolve, 200));
gcObserver.disconnect();
const slow = Array.from(times).filter((t) => t > 1).length;
const sorted = Array.from(times).sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 1000;
const mean = (sorted.reduce((a, b) => a + b, 0) / sorted.length) * 1000;

// ---- parts, for context ----
const hasher = createBlockHasher(config.hash_seed);
const hashRounds = 2000;
let start = performance.now();
for (let i = 0; i < hashRounds; i++) hasher.hashPrompt(queries[i % queries.length]!.tokenIds, BLOCK);
const hashUs = ((performance.now() - start) * 1000) / hashRounds;
const chains = queries.map((q) => hasher.hashPrompt(q.tokenIds, BLOCK));
const ids = candidates.map((c) => c.id);
const out = new Int32Array(ids.length);
start = performance.now();
for (let i = 0; i < hashRounds; i++) index.overlaps(chains[i % chains.length]!, ids, out);
const overlapUs = ((performance.now() - start) * 1000) / hashRounds;

const result = {
  machine: { cpus: cpus().length, node: process.version, loadAverage1m: Number(loadavg()[0]!.toFixed(2)) },
  ingest: {
    blocks: storedBlocks,
    indexedBlocks: indexed,
    seconds: Number(ingestSeconds.toFixed(3)),
    blocksPerSecond: Math.round(storedBlocks / ingestSeconds),
    heapMb: Math.round(heapMb),
  },
  decision: {
    policy: config.policy,
    workers: WORKERS,
    promptTokens: PROMPT_BLOCKS * BLOCK,
    decisions,
    meanMatchedBlocks: Math.round(matchedBlocks / decisions),
    p50Us: Number(pct(50).toFixed(1)),
    p90Us: Number(pct(90).toFixed(1)),
    p99Us: Number(pct(99).toFixed(1)),
    maxUs: Number(pct(100).toFixed(1)),
    meanUs: Number(mean.toFixed(1)),
    over1ms: slow,
    gc: {
      pauses: gcPauses,
      totalMs: Number(gcMs.toFixed(1)),
      maxMs: Number(gcMaxMs.toFixed(2)),
      shareOfWallTime: Number((gcMs / decisionsMs).toFixed(3)),
    },
  },
  parts: { hashPromptUs: Number(hashUs.toFixed(1)), overlapQueryUs: Number(overlapUs.toFixed(1)) },
};

if (args.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const d = result.decision;
  console.log(
    `machine: ${result.machine.cpus} cpus, node ${result.machine.node}, load average ${result.machine.loadAverage1m}`,
  );
  console.log(
    `ingest:   ${result.ingest.blocks} blocks in ${result.ingest.seconds} s = ${result.ingest.blocksPerSecond.toLocaleString('en')} blocks/s (goal >= 500,000); ${result.ingest.indexedBlocks} indexed, heap ${result.ingest.heapMb} MB`,
  );
  console.log(
    `decision: ${d.policy}, ${d.workers} workers, ${d.promptTokens}-token prompts, ${d.decisions} decisions, mean longest match ${d.meanMatchedBlocks} blocks`,
  );
  console.log(
    `          p50 ${d.p50Us} us (goal <= 250), p90 ${d.p90Us} us, p99 ${d.p99Us} us (goal <= 1000), max ${d.maxUs} us, mean ${d.meanUs} us`,
  );
  console.log(
    `          ${d.over1ms} decisions over 1 ms; GC during them: ${d.gc.pauses} pauses, ${d.gc.totalMs} ms total, longest ${d.gc.maxMs} ms`,
  );
  console.log(
    `parts:    hash an 8k prompt ${result.parts.hashPromptUs} us; overlap query over 64 workers ${result.parts.overlapQueryUs} us`,
  );
}
