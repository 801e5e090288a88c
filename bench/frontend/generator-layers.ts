/**
 * What one async-generator layer costs per streamed item (not a test): a hand-written async
 * iterator (one resolved promise per item, as the grpc backend's stream) read directly, through
 * N `yield*` layers, and through N `for await ... yield` layers; CPU microseconds per item
 * (process.cpuUsage, this process only). Tells how much of the per-token cost the layers
 * between a worker's stream and the SSE writer can be.
 *
 *   npx tsx bench/frontend/generator-layers.ts [--items 200000] [--rounds 3]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    'npx tsx bench/frontend/generator-layers.ts [--items 200000] [--rounds 3]\nCPU us per item through 0, 1 and 4 async-generator layers (yield* and for await).',
  );
  process.exit(0);
}
const ITEMS = Number(args.items);

function source(): AsyncIterableIterator<{ i: number }> {
  let i = 0;
  const iterator: AsyncIterableIterator<{ i: number }> = {
    next: () =>
      Promise.resolve(i < ITEMS ? { done: false, value: { i: i++ } } : { done: true as const, value: undefined }),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
async function* delegate<T>(inner: AsyncIterable<T>): AsyncGenerator<T> {
  yield* inner;
}
async function* forward<T>(inner: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const item of inner) yield item;
}
const layered = <T>(layer: (inner: AsyncIterable<T>) => AsyncIterable<T>, n: number, inner: AsyncIterable<T>) => {
  let out = inner;
  for (let i = 0; i < n; i++) out = layer(out);
  return out;
};

async function usPerItem(make: () => AsyncIterable<unknown>): Promise<number> {
  const started = process.cpuUsage();
  let n = 0;
  for await (const _ of make()) n++;
  const used = process.cpuUsage(started);
  return (used.user + used.system) / n;
}

console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${ITEMS} items per measure`,
);
const cases: [string, () => AsyncIterable<unknown>][] = [
  ['iterator alone', () => source()],
  ['+1 yield*', () => layered(delegate, 1, source())],
  ['+4 yield*', () => layered(delegate, 4, source())],
  ['+1 for await', () => layered(forward, 1, source())],
  ['+4 for await', () => layered(forward, 4, source())],
];
for (let round = 1; round <= Number(args.rounds); round++) {
  const row: string[] = [];
  for (const [name, make] of cases) row.push(`${name} ${(await usPerItem(make)).toFixed(3)} us`);
  console.log(`round ${round}: ${row.join(', ')}`);
}
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
