/**
 * How fast each workload draws requests at its default parameters (the simulator draws tens of
 * thousands per run):
 *
 *   npx tsx bench/workloads/generation-speed.ts [requests=20000] [seed=1]
 *
 * Completions are fed back 1 s after each arrival (drainSource), so the session workloads grow
 * their histories as in a run; no request is kept. Prints wall time, requests/s, prompt tokens/s,
 * and the heap and array-buffer memory after the draw (garbage included: not a peak, not a
 * floor). `trace` is left out (it needs a file).
 */
import { performance } from 'node:perf_hooks';
import { createWorkload, drainSource, workloadNames } from './index.ts';

const requests = Number(process.argv[2] ?? 20000);
const seed = process.argv[3] ?? '1';

for (const name of workloadNames().filter((n) => n !== 'trace')) {
  const workload = createWorkload(name, {}, seed);
  if (!workload.ok) throw workload.error;
  let drawn = 0;
  let tokens = 0;
  const started = performance.now();
  // Nothing is kept, as in a simulator that drops a prompt once it has been routed.
  drainSource(workload.value.open(), {
    maxRequests: requests,
    keep: false,
    onFinished: (d) => {
      drawn += 1;
      tokens += d.request.promptTokenIds.length;
    },
  });
  const ms = performance.now() - started;
  const memory = process.memoryUsage();
  console.log(
    `${name.padEnd(20)} ${String(drawn).padStart(6)} requests in ${ms.toFixed(0).padStart(5)} ms: ` +
      `${((drawn / ms) * 1000).toFixed(0).padStart(7)} req/s, ${(tokens / ms / 1000).toFixed(1).padStart(6)} M prompt tokens/s, ` +
      `mean prompt ${(tokens / drawn).toFixed(0).padStart(6)} tokens; heap ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB, buffers ${(memory.arrayBuffers / 2 ** 20).toFixed(0)} MiB`,
  );
}
