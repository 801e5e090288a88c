import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runKvEventStorm } from './kv-event-storm.ts';

// The goal (event-loop lag under 50 ms) is measured by kv-event-storm-main.ts; this asserts
// loosely that a burst is ingested in slices. The figure is the main thread's own run time
// between two ticks of a 1 ms timer (Linux schedstat), so a busy machine's preemption does not
// count; a GC pause does, and so does time a VM's host takes the vCPU away (one such 105 ms
// "run" was seen in about one burst in four at load 8, with perf sampling the thread once in
// it), hence: the second-longest hold under twice the goal, the longest under half a second.
// Without slicing the same burst holds the loop for about a second.
const schedstat = existsSync('/proc/thread-self/schedstat');

describe('KV-event storm', () => {
  it.skipIf(!schedstat)('keeps the event loop turning while a 1M-block burst of KV events is ingested', async () => {
    const [burst] = await runKvEventStorm({
      blocks: 1_000_000,
      blocksPerBatch: 128,
      workers: 2,
      bursts: 1,
      blockSize: 16,
      seed: 7,
    });
    expect(burst!.lag.ticks).toBeGreaterThan(50);
    const [longest, second] = burst!.lag.longestRunsMs;
    expect(second).toBeLessThan(50 * 2);
    expect(longest).toBeLessThan(500);
  });
});
