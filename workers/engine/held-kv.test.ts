import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import type { KvEventBatch } from '../../proto/kv-events/types.ts';
import { createSimEngine } from './sim-engine.ts';
import { prompt, run } from './testing/sim-harness.ts';

describe('inspecting holds and the prefix cache', () => {
  it('reports a held handoff without releasing it, and nothing once it is released', async () => {
    const clock = createVirtualClock();
    const engine = createSimEngine({ numBlocks: 64 }, { clock });
    const pending = engine.prefill({ requestId: 'p', promptTokenIds: prompt(40), sampling: { maxTokens: 4 } });
    run(clock, 10_000);
    const { handoff } = await pending;
    expect(handoff).not.toBeNull();
    const held = engine.heldKv(handoff!.handoffId);
    expect(held).toEqual({
      handoffId: handoff!.handoffId,
      numBlocks: 3,
      numTokens: 40,
      expiresAtMs: handoff!.expiresAtMs,
    });
    expect(engine.heldKv(handoff!.handoffId)).toEqual(held);
    expect(engine.status().heldBlocks).toBe(3);
    expect(engine.release(handoff!.handoffId).found).toBe(true);
    expect(engine.heldKv(handoff!.handoffId)).toBeNull();
    expect(engine.heldKv('never-held')).toBeNull();
    await engine.close();
  });

  it('stops reporting a hold at its expiry even before a step collects it', async () => {
    const clock = createVirtualClock();
    const engine = createSimEngine({ numBlocks: 64, kvHoldTimeoutMs: 1000 }, { clock });
    const pending = engine.prefill({ requestId: 'p', promptTokenIds: prompt(40), sampling: { maxTokens: 4 } });
    run(clock, 500);
    const { handoff } = await pending;
    // The clock has not reached the expiry, so the hold is still in the book: ask the core about later instants.
    expect(engine.core.heldKv(handoff!.handoffId, handoff!.expiresAtMs - 1)).not.toBeNull();
    expect(engine.core.heldKv(handoff!.handoffId, handoff!.expiresAtMs)).toBeNull();
    expect(engine.status().heldHandoffs).toBe(1);
    clock.advanceTo(handoff!.expiresAtMs);
    expect(engine.heldKv(handoff!.handoffId)).toBeNull();
    expect(engine.status().heldHandoffs).toBe(0);
    await engine.close();
  });

  it('lists exactly the hashes its KV events announced and did not remove', async () => {
    const clock = createVirtualClock();
    // 12 blocks: the third request evicts blocks of the first two.
    const engine = createSimEngine({ numBlocks: 12 }, { clock });
    const live = new Set<bigint>();
    engine.onKvEvents((batch: KvEventBatch) => {
      for (const event of batch.events) {
        if (event.type === 'BlockStored') for (const h of event.blockHashes) live.add(h as bigint);
        else if (event.type === 'BlockRemoved') for (const h of event.blockHashes) live.delete(h as bigint);
        else live.clear();
      }
    });
    let removed = 0;
    engine.onKvEvents((batch) => (removed += batch.events.filter((e) => e.type === 'BlockRemoved').length));
    for (const [i, offset] of [0, 1000, 2000].entries()) {
      const stream = engine.generate({
        requestId: `r${i}`,
        promptTokenIds: prompt(64, offset),
        sampling: { maxTokens: 2 },
      });
      run(clock, clock.now() + 60_000);
      await stream.result;
    }
    expect(removed).toBeGreaterThan(0);
    expect(new Set(engine.cachedBlockHashes!())).toEqual(live);
    expect(live.size).toBeGreaterThan(0);
    await engine.close();
  });
});
