import { describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import type { KvCacheEvent } from '../../../proto/kv-events/types.ts';
import { createSimEngine, type Engine } from '../../engine/index.ts';
import { createReferenceEngine } from './reference-engine.ts';

/**
 * The reference engine shares the simulated engine's block manager, so a router subscribed to
 * its KV events sees exactly what it would see from a simulated (or vLLM) worker: the same
 * block hashes, parents, token ids and evictions for the same requests.
 */

const prompt = (length: number, offset: number) =>
  Array.from({ length }, (_, i) => 3000 + (((offset + i) * 104_729) % 140_000));

async function eventsOf(engine: Engine): Promise<KvCacheEvent[]> {
  const events: KvCacheEvent[] = [];
  engine.onKvEvents((batch) => events.push(...batch.events));
  const shared = prompt(64, 0);
  const workload = [
    [...shared, ...prompt(90, 1000)],
    [...shared, ...prompt(40, 2000)], // a prefix hit: no event for the shared blocks
    prompt(200, 3000),
    prompt(150, 4000), // 24 blocks in all: evicts earlier prompts' blocks
    [...shared, ...prompt(33, 5000)],
  ];
  for (const [i, promptTokenIds] of workload.entries()) {
    // max_tokens 1: only prompt blocks are computed and cached, whatever the engines' tokens.
    const stream = engine.generate({ requestId: `e${i}`, promptTokenIds, sampling: { maxTokens: 1 } });
    for await (const _ of stream);
  }
  expect(engine.resetPrefixCache()).toBe(true);
  await engine.close();
  return events;
}

describe('reference engine KV events', () => {
  it("are the simulated engine's for the same requests, evictions and reset included", async () => {
    const options = { numBlocks: 24, blockSize: 16, maxNumBatchedTokens: 256, hashSeed: '0' };
    const sim = await eventsOf(createSimEngine({ ...options, timeScale: 1e9 }, { clock: realClock }));
    const reference = await eventsOf(await createReferenceEngine(options, { clock: realClock }));
    expect(reference).toEqual(sim);
    const stored = reference.filter((e) => e.type === 'BlockStored');
    expect(stored.length).toBeGreaterThan(4);
    expect(stored.some((e) => e.type === 'BlockStored' && e.parentBlockHash !== null)).toBe(true);
    expect(reference.some((e) => e.type === 'BlockRemoved')).toBe(true);
    expect(reference.at(-1)).toEqual({ type: 'AllBlocksCleared' });
  });
});
