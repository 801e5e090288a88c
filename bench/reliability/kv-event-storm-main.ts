/**
 * KV-event storm (not a test): how long a burst of BlockStored events holds the orchestrator's
 * event loop while its subscribers ingest it (see kv-event-storm.ts for the method).
 *
 *   npx tsx bench/reliability/kv-event-storm-main.ts [--blocks 1000000] [--blocks-per-batch 64] [--workers 4] [--bursts 2] [--unsliced]
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
});
console.log(
  `KV-event storm: ${args.blocks} blocks per burst in ${args['blocks-per-batch']}-block batches over ${args.workers} workers${args.unsliced ? ' (unsliced)' : ''}; load average at start ${load}, at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(
  'burst | batches | ingest ms | blocks/s | max tick gap ms (main thread ran) | longest run without a tick ms | longest batch ms | loop delay max / p99 ms',
);
const ms = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));
figures.forEach((f, i) =>
  console.log(
    `${i === 0 ? 'cold' : `#${i + 1}`} | ${f.batches} | ${f.ingestMs.toFixed(0)} | ${Math.round(f.blocksPerSecond)} | ${ms(f.lag.maxGapMs)} (${ms(f.lag.maxGapRunMs)}) | ${ms(f.lag.maxRunMs)} | ${ms(f.maxApplyMs)} | ${ms(f.lag.delayMaxMs)} / ${ms(f.lag.delayP99Ms)}`,
  ),
);
