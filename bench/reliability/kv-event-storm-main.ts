/**
 * KV-event storm (not a test): how long a burst of BlockStored events holds the orchestrator's
 * event loop while its subscribers ingest it (see kv-event-storm.ts for the method).
 *
 *   npx tsx bench/reliability/kv-event-storm-main.ts [--blocks 1000000] [--blocks-per-batch 64] [--workers 4] [--bursts 2] [--unsliced] [--publishers-in-process] [--publishers-nice N] [--slice-ms N] [--reset-before-burst K] [--explain]
 *
 * --reset-before-burst K resets worker 0 (clearWorker, as on a restart) just before burst K (1-based).
 * --explain lists each burst's five longest gaps between ticks: wall ms, the main thread's run
 * and run-queue wait inside (schedstat), and the index batches and GC pauses that ended in it.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runKvEventStorm } from './kv-event-storm.ts';

const { values: args } = parseArgs({
  options: {
    blocks: { type: 'string', default: '1000000' },
    'blocks-per-batch': { type: 'string', default: '64' },
    workers: { type: 'string', default: '4' },
    bursts: { type: 'string', default: '2' },
    'block-size': { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    unsliced: { type: 'boolean', default: false },
    explain: { type: 'boolean', default: false },
    'publishers-in-process': { type: 'boolean', default: false },
    'slice-ms': { type: 'string' },
    'publishers-nice': { type: 'string', default: '0' },
    'reset-before-burst': { type: 'string' },
  },
});
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const figures = await runKvEventStorm({
  blocks: Number(args.blocks),
  blocksPerBatch: Number(args['blocks-per-batch']),
  workers: Number(args.workers),
  bursts: Number(args.bursts),
  blockSize: Number(args['block-size']),
  seed: Number(args.seed),
  unsliced: args.unsliced,
  publishersInProcess: args['publishers-in-process'],
  publishersNice: Number(args['publishers-nice']),
  ...(args['slice-ms'] === undefined ? {} : { sliceMs: Number(args['slice-ms']) }),
  ...(args['reset-before-burst'] === undefined ? {} : { resetBeforeBurst: Number(args['reset-before-burst']) - 1 }),
});
const variants = [
  args.unsliced ? ' (unsliced)' : '',
  args['publishers-in-process'] ? ' (publishers in this process)' : '',
  Number(args['publishers-nice']) ? ` (publishers at nice ${args['publishers-nice']})` : '',
  args['slice-ms'] === undefined ? '' : ` (${args['slice-ms']} ms slices)`,
].join('');
const loadAtEnd = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
console.log(
  `KV-event storm: ${args.blocks} blocks per burst in ${args['blocks-per-batch']}-block batches over ${args.workers} workers` +
    `${variants}; load average at start ${load}, at end ${loadAtEnd}`,
);
console.log(
  'burst | batches | ingest ms | blocks/s | max tick gap ms (main thread ran) | longest run without a tick ms | longest batch ms | longest GC pause ms | loop delay max / p99 ms',
);
const ms = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));
figures.forEach((f, i) =>
  console.log(
    `${i === 0 ? 'cold' : `#${i + 1}`} | ${f.batches} | ${f.ingestMs.toFixed(0)} | ${Math.round(f.blocksPerSecond)} | ${ms(f.lag.maxGapMs)} (${ms(f.lag.maxGapRunMs)}) | ${ms(f.lag.maxRunMs)} | ${ms(f.maxApplyMs)} | ${ms(f.maxGcMs)} | ${ms(f.lag.delayMaxMs)} / ${ms(f.lag.delayP99Ms)}`,
  ),
);
figures.forEach((f, i) => {
  if (f.reset)
    console.log(
      `before burst ${i + 1}: worker 0 reset with ${f.reset.blocks} blocks indexed, clearWorker took ${ms(f.reset.ms)} ms; its blocks were released during that burst`,
    );
});
if (args.explain) {
  figures.forEach((f, i) => {
    console.log(
      `${i === 0 ? 'cold' : `#${i + 1}`}: gap ms = ran + waited for a CPU + other; batches (ms, longest); GC ms (longest)`,
    );
    for (const g of f.worst) {
      const other = g.runMs === null || g.waitMs === null ? null : g.gapMs - g.runMs - g.waitMs;
      console.log(
        `  ${ms(g.gapMs)} = ${ms(g.runMs)} + ${ms(g.waitMs)} + ${ms(other)}; ${g.batches} batches (${ms(g.applyMs)}, ${ms(g.maxApplyMs)}); GC ${ms(g.gcMs)} (${ms(g.maxGcMs)})`,
      );
    }
  });
}
