/**
 * Speed of the assembled reference engine (createReferenceEngine: shared scheduler, real model,
 * TCP pulls) on this machine, through the Engine API on the real clock.
 *
 *   npx tsx bench/engine/reference-engine.ts
 *
 * Prints, each the median of 3 runs after one warm-up:
 * - prefill: time to the first token of a cold prompt (generate, max_tokens 1), wall and
 *   process CPU, tokens per CPU second, and the longest gap the event loop saw meanwhile (a
 *   pass runs synchronously);
 * - decode: mean inter-token time and aggregate tokens/s for B concurrent requests with
 *   512-token prompts, 64 output tokens each;
 * - disaggregated: prefill on A, then decode on B of a request whose prompt B lacks, timed from
 *   decode() to its first token (pull of every block over loopback TCP + release + one pass).
 * Wall clock on a shared 2-core machine: figures include waiting for a core.
 */
import { performance } from 'node:perf_hooks';
import { realClock } from '../../common/clock.ts';
import { createRng } from '../../common/rng.ts';
import type { TokenStream } from '../../workers/engine/index.ts';
import { createReferenceEngine, type ReferenceEngine } from '../../workers/reference/index.ts';

const rng = createRng('bench-reference-engine');
const randomPrompt = (length: number) => Array.from({ length }, () => rng.int(151_936));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let serial = 0;

async function drain(stream: TokenStream, onToken?: () => void): Promise<void> {
  for await (const chunk of stream) if (chunk.tokenIds.length > 0) onToken?.();
}

/** Longest gap between turns of the event loop while `work` runs, ms. */
async function withLoopLag<T>(work: () => Promise<T>): Promise<{ value: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  const value = await work();
  running = false;
  return { value, maxGapMs };
}

async function prefill(engine: ReferenceEngine, length: number) {
  const runs: { ms: number; cpuMs: number; gap: number }[] = [];
  for (let run = 0; run < 4; run++) {
    const prompt = randomPrompt(length);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { maxGapMs } = await withLoopLag(() =>
      drain(engine.generate({ requestId: `p${++serial}`, promptTokenIds: prompt, sampling: { maxTokens: 1 } })),
    );
    const cpu = process.cpuUsage(c0);
    if (run > 0) runs.push({ ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, gap: maxGapMs });
  }
  const ms = median(runs.map((r) => r.ms));
  const cpuMs = median(runs.map((r) => r.cpuMs));
  console.log(
    `| ${length} | ${ms.toFixed(0)} | ${cpuMs.toFixed(0)} | ${((length / cpuMs) * 1000).toFixed(0)} | ${median(runs.map((r) => r.gap)).toFixed(0)} |`,
  );
}

async function decode(engine: ReferenceEngine, batch: number) {
  const itl: number[] = [];
  const rate: number[] = [];
  for (let run = 0; run < 4; run++) {
    const gaps: number[] = [];
    let tokens = 0;
    let start = 0;
    // Warm the prompts first so the timing covers decoding only.
    const prompts = Array.from({ length: batch }, () => randomPrompt(512));
    await Promise.all(
      prompts.map((p) =>
        drain(engine.generate({ requestId: `w${++serial}`, promptTokenIds: p, sampling: { maxTokens: 1 } })),
      ),
    );
    await Promise.all(
      prompts.map(async (p) => {
        let last = 0;
        await drain(
          engine.generate({
            requestId: `d${++serial}`,
            promptTokenIds: p,
            sampling: { maxTokens: 64, ignoreEos: true },
          }),
          () => {
            const now = performance.now();
            if (last > 0) gaps.push(now - last);
            else if (start === 0) start = now;
            last = now;
            tokens++;
          },
        );
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    if (run > 0) {
      itl.push(gaps.reduce((a, b) => a + b, 0) / gaps.length);
      rate.push(tokens / seconds);
    }
  }
  console.log(`| ${batch} | ${median(itl).toFixed(2)} | ${median(rate).toFixed(0)} |`);
}

async function handoff(a: ReferenceEngine, b: ReferenceEngine, length: number) {
  const pull: number[] = [];
  for (let run = 0; run < 4; run++) {
    const prompt = randomPrompt(length);
    const pre = await a.prefill({ requestId: `h${++serial}`, promptTokenIds: prompt, sampling: { maxTokens: 8 } });
    const t0 = performance.now();
    let first = 0;
    await drain(
      b.decode({
        requestId: `hd${serial}`,
        promptTokenIds: prompt,
        sampling: { maxTokens: 2 },
        handoff: pre.handoff!,
        firstTokenId: pre.firstTokenId,
      }),
      () => {
        if (first === 0) first = performance.now();
      },
    );
    if (run > 0) pull.push(first - t0);
  }
  const blocks = Math.ceil(length / a.info.blockSize);
  console.log(
    `| ${length} | ${blocks} | ${((blocks * a.info.blockBytes) / 1024).toFixed(0)} | ${median(pull).toFixed(1)} |`,
  );
}

const A = await createReferenceEngine({ numBlocks: 8192 }, { clock: realClock });
const B = await createReferenceEngine({ numBlocks: 8192 }, { clock: realClock });
console.log(
  `# Reference engine speed (node ${process.version}; default shape, ${A.info.maxNumBatchedTokens}-token passes, 16-token blocks)\n`,
);
console.log(
  '| prompt tokens | TTFT ms (wall) | CPU ms | prefill tokens per CPU s | longest event-loop gap ms |\n|---:|---:|---:|---:|---:|',
);
for (const length of [128, 512, 2048, 4096]) await prefill(A, length);
console.log('\n| concurrent requests (512-token prompts) | mean ITL ms | decode tokens/s |\n|---:|---:|---:|');
for (const batch of [1, 8, 32]) await decode(A, batch);
console.log(
  '\n| prompt tokens (B caches none) | blocks pulled | KiB pulled | decode() to first token ms |\n|---:|---:|---:|---:|',
);
for (const length of [128, 2048, 8192]) await handoff(A, B, length);
await A.close();
await B.close();
