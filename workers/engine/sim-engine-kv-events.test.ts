import { describe, expect, it } from 'vitest';
import { prompt, record, run, setup } from './testing/sim-harness.ts';

/** The simulated engine's KV events: what a subscriber rebuilds from them is the engine's cache. */

describe('simulated engine KV events', () => {
  it("publishes events from which a subscriber rebuilds exactly the engine's cached blocks", () => {
    const { clock, engine } = setup({ numBlocks: 300, dataParallelRank: 2 });
    const seen = new Set<bigint>();
    let batches = 0;
    let stored = 0;
    let removed = 0;
    engine.onKvEvents((batch) => {
      batches++;
      expect(batch.ts).toBe(clock.now() / 1000);
      expect(batch.dataParallelRank).toBe(2);
      expect(batch.events.length).toBeGreaterThan(0);
      for (const event of batch.events) {
        if (event.type === 'BlockStored') {
          stored++;
          expect(event.tokenIds).toHaveLength(event.blockSize * event.blockHashes.length);
          if (event.parentBlockHash !== null) expect(seen.has(event.parentBlockHash as bigint)).toBe(true);
          for (const hash of event.blockHashes) seen.add(hash as bigint);
        } else if (event.type === 'BlockRemoved') {
          removed++;
          for (const hash of event.blockHashes) expect(seen.delete(hash as bigint)).toBe(true);
        } else {
          seen.clear();
        }
      }
    });
    for (let i = 0; i < 60; i++) {
      clock.setTimer(i * 20, () =>
        record(engine, clock, {
          requestId: `r${i}`,
          promptTokenIds: [...prompt(160, (i % 4) * 10_000), ...prompt(30 + i * 7, 50_000 + i * 1000)],
          sampling: { maxTokens: 40 },
        }),
      );
    }
    run(clock);
    const cached = new Set<bigint>();
    for (let id = 0; id < 300; id++) {
      const hash = engine.core.pool.hashOf(id);
      if (hash) cached.add(hash.value);
    }
    expect(removed).toBeGreaterThan(50);
    expect(stored).toBeGreaterThan(60);
    expect(batches).toBeLessThanOrEqual(engine.status().stepsTotal);
    expect(seen).toEqual(cached);
  });

  it('publishes nothing for a prefix hit and AllBlocksCleared on reset', () => {
    const { clock, engine } = setup();
    const events: string[] = [];
    engine.onKvEvents((batch) => events.push(...batch.events.map((e) => e.type)));
    record(engine, clock, { requestId: 'a', promptTokenIds: prompt(64), sampling: { maxTokens: 1 } });
    run(clock);
    expect(events).toEqual(['BlockStored']);
    // Same 64 tokens plus one: the four cached blocks hit, and no new block fills.
    record(engine, clock, { requestId: 'b', promptTokenIds: prompt(65), sampling: { maxTokens: 1 } });
    run(clock);
    expect(events).toEqual(['BlockStored']);
    expect(engine.resetPrefixCache()).toBe(true);
    expect(events).toEqual(['BlockStored', 'AllBlocksCleared']);
  });

  it('stops sending to an unsubscribed sink', () => {
    const { clock, engine } = setup();
    let count = 0;
    const unsubscribe = engine.onKvEvents(() => count++);
    record(engine, clock, { requestId: 'a', promptTokenIds: prompt(64), sampling: { maxTokens: 1 } });
    run(clock);
    unsubscribe();
    record(engine, clock, { requestId: 'b', promptTokenIds: prompt(64, 500), sampling: { maxTokens: 1 } });
    run(clock);
    expect(count).toBe(1);
  });
});
