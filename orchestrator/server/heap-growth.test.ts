import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const heapGrowth = new URL('./heap-growth.ts', import.meta.url).pathname;

/**
 * A process with a live set of ~180 MB churning garbage that outlives the young generation (held
 * in a ring of 200,000 objects, ~50 MB, long enough to be promoted, then dropped), as lingering refused connections do.
 * Returns how far its heap grew past the live set at the most, MB.
 */
async function peakGrowthMb(percent: number): Promise<number> {
  const program = `
    import { limitHeapGrowth } from ${JSON.stringify(heapGrowth)};
    limitHeapGrowth(${percent});
    const live = Array.from({ length: 600000 }, (_, i) => ({ i, s: 'live-' + i, a: [i, i + 1] }));
    const ring = new Array(200000);
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    for (let n = 0; n < 2000000; n++) {
      ring[n % ring.length] = { n, s: 'garbage-' + n, a: new Array(16).fill(n) };
      if (n % 10000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    console.log(String((peak - base) / 1e6), live.length);`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program]);
  return Number(stdout.split(' ')[0]);
}

describe('limitHeapGrowth', () => {
  it("keeps promoted garbage to a fraction of what V8's own growth factor lets pile up", async () => {
    const own = await peakGrowthMb(0);
    const bounded = await peakGrowthMb(25);
    // Measured: about 366 MB with V8's factor, 124 MB at 25% (load 1.5).
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThan(own / 2);
  }, 60_000);
});
