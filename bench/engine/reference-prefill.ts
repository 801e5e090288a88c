/**
 * How long the reference model takes to prefill a prompt, and to decode, on this machine.
 *
 *   npx tsx bench/engine/reference-prefill.ts [promptTokens=2000] [repeats=5]
 *   REFERENCE_MODEL='{"numLayers":3}' npx tsx bench/engine/reference-prefill.ts   # another shape
 *
 * Prints one line per run and the median: prefill wall time and process CPU time (the machine is
 * shared, so wall time includes waiting for a core) for the whole prompt in one forward
 * call (same arithmetic as chunked or token-by-token), then the mean time per decoded token at the
 * end of that prompt. The first run includes JIT warm-up and is reported but not in the median.
 */
import { performance } from 'node:perf_hooks';
import { createRng } from '../../common/rng.ts';
import { createKvBlockPool } from '../../workers/reference/kv/index.ts';
import { createReferenceModel, decodeGreedy, prefillSequence } from '../../workers/reference/model/index.ts';

const promptTokens = Number(process.argv[2] ?? 2000);
const repeats = Number(process.argv[3] ?? 5);
const decodeTokens = 32;
const blockSize = 16;

// REFERENCE_MODEL='{"numLayers":3}' overrides the default shape, to size it.
const model = createReferenceModel({ seed: 1, ...(JSON.parse(process.env.REFERENCE_MODEL ?? '{}') as object) });
const layout = model.kvLayout(blockSize);
const blocksPerRun = Math.ceil((promptTokens + decodeTokens) / blockSize);
const pool = createKvBlockPool({ layout, numBlocks: blocksPerRun });
const rng = createRng('bench-prompt');
const prompt = Array.from({ length: promptTokens }, () => rng.int(151936));

const prefillMs: number[] = [];
const prefillCpuMs: number[] = [];
const decodeMsPerToken: number[] = [];
for (let run = 0; run <= repeats; run++) {
  let next = 0;
  const allocate = () => next++;
  const sequence = { blockTable: [] as number[], numTokens: 0 };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const logits = prefillSequence(model, pool, sequence, prompt, allocate);
  const t1 = performance.now();
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const out = decodeGreedy(model, pool, sequence, logits, {
    maxTokens: decodeTokens,
    ignoreEos: true,
    allocateBlock: allocate,
  });
  const t2 = performance.now();
  const perToken = (t2 - t1) / Math.max(1, out.tokenIds.length - 1);
  console.log(
    `run ${run}${run === 0 ? ' (warm-up)' : ''}: prefill ${promptTokens} tokens ${(t1 - t0).toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU; decode ${perToken.toFixed(3)} ms/token`,
  );
  if (run > 0) {
    prefillMs.push(t1 - t0);
    prefillCpuMs.push(cpuMs);
    decodeMsPerToken.push(perToken);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `layout: ${layout.numLayers} layers x ${layout.numKvHeads} KV heads x head dim ${layout.headDim}, block ${blockSize} tokens = ${layout.blockBytes} bytes`,
);
console.log(
  `median prefill ${promptTokens} tokens: ${median(prefillMs).toFixed(0)} ms wall, ${median(prefillCpuMs).toFixed(0)} ms CPU (${((promptTokens / median(prefillMs)) * 1000).toFixed(0)} tokens/s); median decode: ${median(decodeMsPerToken).toFixed(3)} ms/token at ${promptTokens} context`,
);
