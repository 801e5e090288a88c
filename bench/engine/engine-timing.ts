/**
 * The simulated engine's timing, measured by running it: time to first token (TTFT) and
 * inter-token latency (ITL) against prompt length and batch size, for two GPU profiles serving
 * Qwen3-8B, plus how fast the engine simulates (for the cluster simulator's budget).
 *
 *   npx tsx bench/engine/engine-timing.ts            # everything (about a minute)
 *   npx tsx bench/engine/engine-timing.ts --no-speed # the timing tables only
 *
 * Every figure comes from requests sent through createSimEngine on a virtual clock; the
 * roofline column is printed beside the batch-1 TTFT as a cross-check only.
 */
import { performance } from 'node:perf_hooks';
import { createVirtualClock } from '../../common/clock.ts';
import { createRng } from '../../common/rng.ts';
import { engineProfile, kvCapacityTokens, prefillSeconds } from '../../common/profiles/index.ts';
import { createSimEngine } from '../../workers/engine/index.ts';
import { mean, percentile, runWorkload, syntheticPrompt } from './measure.ts';

const GPUS = ['h100-sxm', 'l40s'] as const;
const MODEL = 'qwen3-8b';
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function promptLengthTable(): void {
  const lengths = [128, 512, 1024, 2048, 4096, 8192, 16384, 32000];
  console.log(`\n### TTFT and ITL against prompt length (batch 1, ${MODEL}, 32 output tokens)\n`);
  console.log(
    `| prompt tokens | ${GPUS.map((g) => `${g} TTFT ms | ${g} ITL ms`).join(' | ')} | ${GPUS.map((g) => `${g} roofline prefill ms`).join(' | ')} |`,
  );
  console.log(`|---:|${GPUS.map(() => '---:|---:').join('|')}|${GPUS.map(() => '---:').join('|')}|`);
  for (const length of lengths) {
    const cells: string[] = [];
    const roofline: string[] = [];
    for (const gpu of GPUS) {
      const result = runWorkload({ gpu, model: MODEL }, [
        { arrivalMs: 0, promptTokenIds: syntheticPrompt(length, length), maxTokens: 32 },
      ]);
      const request = result.requests[0]!;
      cells.push(fmt(request.ttftMs), fmt(mean(request.itlMs)));
      roofline.push(fmt(prefillSeconds(engineProfile(gpu, MODEL), length) * 1000));
    }
    console.log(`| ${length} | ${cells.join(' | ')} | ${roofline.join(' | ')} |`);
  }
  console.log('\nTTFT above 8192 tokens spans several steps: chunked prefill under max_num_batched_tokens = 8192.');
}

function batchSizeTable(): void {
  const batches = [1, 8, 32, 64, 128, 256];
  const promptTokens = 1024;
  const outputTokens = 128;
  console.log(
    `\n### TTFT and ITL against batch size (${batches.join(', ')} requests of ${promptTokens} prompt tokens arriving together, ${outputTokens} output tokens, ${MODEL})\n`,
  );
  console.log('| GPU | batch | TTFT mean ms | TTFT p90 ms | ITL mean ms | ITL p90 ms | output tok/s | preemptions |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const gpu of GPUS) {
    for (const batch of batches) {
      const workload = Array.from({ length: batch }, (_, i) => ({
        arrivalMs: 0,
        promptTokenIds: syntheticPrompt(promptTokens, 1000 + i),
        maxTokens: outputTokens,
      }));
      const result = runWorkload({ gpu, model: MODEL }, workload);
      const ttft = result.requests.map((r) => r.ttftMs);
      const itl = result.requests.flatMap((r) => r.itlMs);
      const tokensPerSecond = (batch * outputTokens) / (result.spanMs / 1000);
      console.log(
        `| ${gpu} | ${batch} | ${fmt(mean(ttft))} | ${fmt(percentile(ttft, 90))} | ${fmt(mean(itl))} | ${fmt(percentile(itl, 90))} | ${tokensPerSecond.toFixed(0)} | ${result.preemptions} |`,
      );
    }
  }
  for (const gpu of GPUS)
    console.log(
      `\n${gpu}: KV capacity ${kvCapacityTokens(engineProfile(gpu, MODEL)).toLocaleString('en-US')} tokens for ${MODEL}.`,
    );
}

/**
 * Simulation speed: `engines` engines on one virtual clock for `seconds` of simulated time, each
 * fed Poisson arrivals (prompts sharing a 1024-token prefix within 8 groups, 1024 more tokens
 * each, 256 output tokens). Reports real time taken and steps and tokens per real second.
 */
function speed(engines: number, seconds: number, ratePerEngine: number): void {
  const clock = createVirtualClock();
  const rng = createRng('engine-speed');
  const fleet = Array.from({ length: engines }, (_, i) =>
    createSimEngine({ gpu: i % 2 === 0 ? 'h100-sxm' : 'l40s', model: MODEL, engineId: `e${i}` }, { clock }),
  );
  const prefixes = Array.from({ length: 8 }, (_, g) => syntheticPrompt(1024, 50_000 + g));
  let requests = 0;
  let tokens = 0;
  // Arrivals are generated one at a time per engine, as a simulator would, not all up front.
  fleet.forEach((engine, e) => {
    const arrivals = rng.fork(`arrivals-${e}`);
    const arrive = (atMs: number) => {
      if (atMs >= seconds * 1000) return;
      clock.setTimer(atMs - clock.now(), () => {
        const id = requests++;
        const prompt = [...prefixes[arrivals.int(prefixes.length)]!, ...syntheticPrompt(1024, id)];
        engine.generate(
          { requestId: `q${id}`, promptTokenIds: prompt, sampling: { maxTokens: 256, ignoreEos: true } },
          { onChunk: (chunk) => (tokens += chunk.tokenIds.length) },
        );
        arrive(atMs + arrivals.exponential(ratePerEngine) * 1000);
      });
    };
    arrive(arrivals.exponential(ratePerEngine) * 1000);
  });
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  clock.runTimers();
  const realSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const steps = fleet.reduce((sum, engine) => sum + engine.status().stepsTotal, 0);
  const hits = fleet.reduce((sum, engine) => sum + engine.status().prefixCacheHitsTokens, 0);
  const queries = fleet.reduce((sum, engine) => sum + engine.status().prefixCacheQueriesTokens, 0);
  const cells = [
    engines,
    seconds,
    ratePerEngine,
    requests,
    (clock.now() / 1000).toFixed(0),
    realSeconds.toFixed(1),
    cpuSeconds.toFixed(1),
    `${(steps / 1000).toFixed(0)}k`,
    `${(tokens / 1e6).toFixed(2)}M`,
    `${(steps / cpuSeconds / 1000).toFixed(0)}k`,
    `${((100 * hits) / queries).toFixed(0)}%`,
  ];
  console.log(`| ${cells.join(' | ')} |`);
}

/** The issue's sanity bounds, measured through the engine: Llama-3.1-8B on an H100. */
function sanity(): void {
  const decode = runWorkload({ gpu: 'h100-sxm', model: 'llama-3.1-8b' }, [
    { arrivalMs: 0, promptTokenIds: syntheticPrompt(1024, 1), maxTokens: 17 },
  ]).requests[0]!;
  const prefill = runWorkload({ gpu: 'h100-sxm', model: 'llama-3.1-8b' }, [
    { arrivalMs: 0, promptTokenIds: syntheticPrompt(8192, 2), maxTokens: 1 },
  ]).requests[0]!;
  console.log('\n### Sanity bounds (Llama-3.1-8B on H100-SXM)\n');
  console.log(`- decode step at batch 1 (1k context): ${fmt(mean(decode.itlMs))} ms (expected about 6-8 ms)`);
  console.log(`- 8192-token prefill: ${fmt(prefill.ttftMs)} ms (expected a few hundred ms)`);
}

console.log(`# Simulated engine timing (${new Date().toISOString().slice(0, 10)}, node ${process.version})`);
sanity();
promptLengthTable();
batchSizeTable();
if (!process.argv.includes('--no-speed')) {
  console.log(
    '\n### Simulation speed (half h100-sxm, half l40s engines on one virtual clock; each prompt one of 8 shared 1024-token prefixes + 1024 unique tokens, 256 output tokens)\n',
  );
  console.log(
    '| engines | simulated s of arrivals | req/s per engine | requests | simulated s to drain | real s | CPU s | steps | tokens | steps / CPU s | prefix hit rate |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  speed(1, 600, 4);
  speed(8, 600, 4);
  speed(64, 600, 1);
}
