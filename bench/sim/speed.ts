/**
 * How fast the cluster simulator runs a 64-worker, 10-minute experiment, against the engines'
 * own cost on the same requests. Run: `npx tsx bench/sim/speed.ts [workers] [seconds]`.
 *
 * Workload: llm-d's shared-prefix generator shaped like bench/engine/engine-timing.ts's speed test
 * (8 groups sharing a 1024-token prefix, 1024 fresh tokens per request, 256 output tokens, 1
 * request/s per worker, Qwen3-8B on H100s). Two runs on identical requests:
 *
 * - engines only: the same engines on one virtual clock, requests dealt round-robin, tokens
 *   counted: the floor any simulator built on the real engine pays;
 * - the whole simulator: kv policy over the precise index fed by KV events with latency, the
 *   load book with status reports, the request path and the RunSummary recorder.
 *
 * Prints one Markdown row per run: CPU seconds (user + system; the machine is shared, so wall
 * time says little), simulated seconds, requests, output tokens, and microseconds per token.
 */
import { createVirtualClock } from '../../common/clock.ts';
import { parseConfig } from '../../common/config/index.ts';
import { createSimEngine } from '../../workers/engine/index.ts';
import { createWorkload } from '../workloads/index.ts';
import { DEFAULT_LATENCIES } from './options.ts';
import { runSimulation } from './run-sim.ts';

const workers = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 600);
const params = {
  groups: 8,
  users_per_group: 100_000,
  system_prompt_tokens: 1024,
  question_tokens: 1024,
  output_tokens: 256,
  rate: workers,
};

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

function enginesOnly(): { cpu: number; simulated: number; requests: number; tokens: number } {
  const workload = createWorkload('llmd-shared-prefix', params, 'speed');
  if (!workload.ok) throw workload.error;
  const source = workload.value.open();
  const cpu = process.cpuUsage();
  const clock = createVirtualClock();
  const fleet = Array.from({ length: workers }, (_, i) =>
    createSimEngine({ gpu: 'h100-sxm', model: 'qwen3-8b', engineId: `e${i}` }, { clock }),
  );
  let requests = 0;
  let tokens = 0;
  for (;;) {
    const due = source.nextArrivalMs();
    const issuing = due !== undefined && due <= seconds * 1000;
    const timer = clock.nextTimerAt();
    if (issuing && (timer === undefined || due <= timer)) {
      clock.advanceTo(due);
      const r = source.take()!;
      fleet[requests++ % workers]!.generate(
        {
          requestId: r.id,
          promptTokenIds: Array.from(r.promptTokenIds),
          sampling: { maxTokens: r.maxOutputTokens, ignoreEos: true },
        },
        { onChunk: (chunk) => (tokens += chunk.tokenIds.length) },
      );
      continue;
    }
    if (timer === undefined) break;
    clock.advanceTo(timer);
  }
  return { cpu: cpuSince(cpu), simulated: clock.now() / 1000, requests, tokens };
}

async function wholeSimulator(): Promise<{ cpu: number; simulated: number; requests: number; tokens: number }> {
  const config = parseConfig({ routing: { policy: 'kv', index_mode: 'precise' }, disaggregation: { mode: 'never' } });
  if (!config.ok) throw config.error;
  const result = await runSimulation({
    workload: 'llmd-shared-prefix',
    params,
    seed: 'speed',
    qps: null,
    durationS: seconds,
    workers,
    gpu: 'h100-sxm',
    model: 'qwen3-8b',
    tp: 1,
    prefillWorkers: 0,
    config: config.value,
    planner: false,
    latency: DEFAULT_LATENCIES,
    slo: { ttftMs: 1000, itlMs: 50 },
  });
  return {
    cpu: result.stats.cpuSeconds,
    simulated: result.stats.simulatedSeconds,
    requests: result.stats.requests,
    tokens: result.summary.output_tokens,
  };
}

console.log(`| run | workers | simulated s | requests | output tokens | CPU s | us per output token |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|`);
for (const [name, run] of [
  ['engines only', enginesOnly],
  ['whole simulator (kv, precise)', wholeSimulator],
] as const) {
  const r = await run();
  console.log(
    `| ${name} | ${workers} | ${r.simulated.toFixed(0)} | ${r.requests} | ${(r.tokens / 1e6).toFixed(2)}M | ${r.cpu.toFixed(1)} | ${((r.cpu * 1e6) / r.tokens).toFixed(2)} |`,
  );
}
