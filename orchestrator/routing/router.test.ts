import { describe, expect, it } from 'vitest';
import { engineProfile } from '../../common/profiles/index.ts';
import { createRng } from '../../common/rng.ts';
import { candidates, core, tokens } from './testing/fleet.ts';
import { createCacheFleet } from '../../test/fakes/prefix-cache.ts';
import type { Candidate } from './types.ts';

const BS = 16;

/**
 * A shared-prefix stream through the router and a fleet of prefix caches whose caches emit KV events:
 * 32 groups of a 2000-token prefix + a 200-token unique question, 8 workers each caching
 * 1000 blocks (8 prefixes), 16 requests in flight, first tokens two requests later. The
 * upper bound of the hit rate is 2000/2200 = 91%. Returns the hit rate after warm-up and the
 * busiest worker's share relative to the mean.
 */
function sharedPrefixRun(routing: Record<string, unknown>): { hitRate: number; imbalance: number } {
  const { router, index, load } = core(routing);
  const pool = candidates(8);
  const fleet = createCacheFleet(pool.map((c) => ({ id: c.id, blockSize: BS, capacityBlocks: 1000 })));
  const rng = createRng('shared-prefix-stream');
  const prefixes = Array.from({ length: 32 }, (_, g) => tokens(2000, 100_000 * (g + 1)));
  let promptTokens = 0;
  let hitTokens = 0;
  const open: number[] = [];
  const perWorker = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const prompt = [...rng.pick(prefixes), ...Array.from({ length: 200 }, () => rng.int(50_000))];
    const decision = router.route({ tokenIds: prompt }, pool);
    open.push(router.commit(decision));
    const hit = fleet.serve(decision.workerId!, prompt, index);
    if (i >= 200) {
      promptTokens += prompt.length;
      hitTokens += hit;
      perWorker.set(decision.workerId!, (perWorker.get(decision.workerId!) ?? 0) + 1);
    }
    if (open.length >= 3) load.firstToken(open[open.length - 3]!, 0);
    if (open.length > 16) load.release(open.shift()!);
  }
  const counts = [...perWorker.values()];
  return {
    hitRate: hitTokens / promptTokens,
    imbalance: Math.max(...counts) / (counts.reduce((a, b) => a + b, 0) / 8),
  };
}

describe('router', () => {
  it('sends a request whose prefix is cached to the worker holding it', () => {
    const { router, index } = core();
    const pool = candidates(4);
    const prompt = tokens(BS * 40);
    createCacheFleet([{ id: 'w2', blockSize: BS, capacityBlocks: 1000 }]).serve('w2', prompt, index);
    const decision = router.route({ tokenIds: [...prompt, 7, 8, 9] }, pool);
    expect(decision.workerId).toBe('w2');
    expect(decision.candidates.map((c) => c.overlapBlocks)).toEqual([0, 0, 40, 0]);
    expect(decision.reason).toMatch(/w2 .*40 blocks \(640 tokens\) cached/);
  });

  it('breaks a tie in favour of a worker with room, and only a tie', () => {
    const { router, index, load } = core();
    const pool = candidates(4);
    const onlyW2 = { hasRoom: (c: { id: string }) => c.id === 'w2' };
    // Identical idle workers, nothing cached: every worker ties, and w2 alone has room.
    for (let i = 0; i < 8; i++) {
      const decision = router.route({ tokenIds: tokens(256, 7 * i) }, pool, onlyW2);
      expect(decision.workerId).toBe('w2');
      load.release(router.commit(decision));
    }
    // No worker with room: the tie spreads as before, to the least recently chosen.
    const none = { hasRoom: () => false };
    const spread = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const decision = router.route({ tokenIds: tokens(256, 900 + i) }, pool, none);
      spread.add(decision.workerId!);
      load.release(router.commit(decision));
    }
    expect(spread).toEqual(new Set(['w0', 'w1', 'w3']));
    // Not a tie: the prefix holder stays the cheapest even without room (the request waits for it).
    const prompt = tokens(BS * 40, 5000);
    createCacheFleet([{ id: 'w0', blockSize: BS, capacityBlocks: 1000 }]).serve('w0', prompt, index);
    expect(router.route({ tokenIds: prompt }, pool, onlyW2).workerId).toBe('w0');
  });

  it('sends it elsewhere once the worker holding it is overloaded', () => {
    const { router, index, load } = core();
    const pool = candidates(4);
    const prompt = tokens(BS * 250);
    createCacheFleet([{ id: 'w2', blockSize: BS, capacityBlocks: 1000 }]).serve('w2', prompt, index);
    // Moderately busier: the cached prefix still wins on cost.
    for (let i = 0; i < 3; i++) load.book('w2', { prefillTokens: 300, decodeBlocks: 250 }, 0);
    expect(router.route({ tokenIds: prompt }, pool).workerId).toBe('w2');
    // Far busier: its queue alone costs more than recomputing the prefix elsewhere.
    for (let i = 0; i < 8; i++) load.book('w2', { prefillTokens: 4000, decodeBlocks: 250 }, 0);
    const decision = router.route({ tokenIds: prompt }, pool);
    expect(decision.workerId).not.toBe('w2');
    const w2 = decision.candidates[2]!;
    expect(w2.overlapBlocks).toBe(250);
    expect(w2.excluded).toBeNull(); // not the guard: the cost says so
    expect(w2.cost.queueSeconds).toBeGreaterThan(
      decision.candidates.find((c) => c.id === decision.workerId)!.cost.prefillSeconds,
    );
  });

  it("keeps the kv policy's hit rate on a shared-prefix stream far above round-robin's, with balanced load", () => {
    const kv = sharedPrefixRun({ policy: 'kv' });
    const roundRobin = sharedPrefixRun({ policy: 'round-robin' });
    expect(kv.hitRate).toBeGreaterThan(0.8);
    expect(roundRobin.hitRate).toBeLessThan(0.35);
    expect(kv.hitRate).toBeGreaterThan(2.5 * roundRobin.hitRate);
    expect(kv.imbalance).toBeLessThan(1.3);
  });

  it('lets a faster GPU with a slightly shorter prefix win in a mixed pool, because costs are in seconds', () => {
    const { router, index } = core();
    const prompt = tokens(BS * 512); // 8k tokens
    const pool: Candidate[] = [
      // H20: decodes faster than an H100 (more bandwidth) but prefills ~7x slower (less compute).
      { id: 'h20', role: 'both', profile: engineProfile('h20', 'qwen3-8b'), blockSize: BS, healthy: true },
      { id: 'h100', role: 'both', profile: engineProfile('h100-sxm', 'qwen3-8b'), blockSize: BS, healthy: true },
    ];
    const fleet = createCacheFleet(pool.map((c) => ({ id: c.id, blockSize: BS, capacityBlocks: 10_000 })));
    fleet.serve('h20', prompt.slice(0, BS * 256), index); // 50% cached
    fleet.serve('h100', prompt.slice(0, BS * 205), index); // 40% cached
    const decision = router.route({ tokenIds: prompt }, pool);
    const [h20, h100] = decision.candidates as [(typeof decision.candidates)[0], (typeof decision.candidates)[0]];
    expect(h20.overlapBlocks).toBeGreaterThan(h100.overlapBlocks);
    expect(h20.cost.decodeSeconds).toBeLessThan(h100.cost.decodeSeconds);
    expect(h100.cost.prefillSeconds).toBeLessThan(h20.cost.prefillSeconds / 3);
    expect(decision.workerId).toBe('h100');

    // Control: on equal GPUs the longer prefix wins.
    const same = core();
    const twins = candidates(2, { prefix: 'twin' });
    const twinFleet = createCacheFleet(twins.map((c) => ({ id: c.id, blockSize: BS, capacityBlocks: 10_000 })));
    twinFleet.serve('twin0', prompt.slice(0, BS * 256), same.index);
    twinFleet.serve('twin1', prompt.slice(0, BS * 205), same.index);
    expect(same.router.route({ tokenIds: prompt }, twins).workerId).toBe('twin0');
  });

  it("reports every candidate's overlap, load, cost terms and the reason, as plain JSON", () => {
    const { router, index } = core();
    const pool = candidates(3);
    pool[1] = { ...pool[1]!, healthy: false };
    createCacheFleet([{ id: 'w0', blockSize: BS, capacityBlocks: 1000 }]).serve('w0', tokens(BS * 200), index);
    const decision = router.route({ tokenIds: tokens(BS * 200 + 5), requestId: 'req-1' }, pool);
    const json = JSON.parse(JSON.stringify(decision));
    expect(json).toMatchObject({ workerId: 'w0', policy: 'kv', requestId: 'req-1', promptTokens: 3205 });
    expect(json.candidates).toHaveLength(3);
    expect(json.candidates[0]).toMatchObject({
      id: 'w0',
      profile: 'h100-sxm/qwen3-8b/tp1',
      eligible: true,
      overlapBlocks: 200,
      cachedTokens: 3200,
      newTokens: 5,
    });
    expect(json.candidates[1]).toMatchObject({ id: 'w1', healthy: false, eligible: false, excluded: 'unhealthy' });
    for (const c of json.candidates) {
      expect(Object.keys(c.cost).sort()).toEqual(['decodeSeconds', 'prefillSeconds', 'queueSeconds', 'totalSeconds']);
      expect(c.cost.totalSeconds).toBeGreaterThan(0);
    }
    expect(typeof json.reason).toBe('string');
  });

  it('changes nothing on a dry run and cannot commit one', () => {
    const { router, load } = core({ policy: 'round-robin' });
    const pool = candidates(3);
    const dry = router.route({ tokenIds: tokens(64) }, pool, { dryRun: true });
    expect(() => router.commit(dry)).toThrow(/dry-run/);
    expect(load.load(dry.workerId!, 0).inflightRequests).toBe(0);
    const first = router.route({ tokenIds: tokens(64) }, pool);
    expect(first.workerId).toBe(dry.workerId);
    router.commit(first);
    expect(router.route({ tokenIds: tokens(64) }, pool).workerId).not.toBe(first.workerId);
  });

  it('books the uncached prompt as prefill work on commit and releases it at the first token', () => {
    const { router, index, load } = core();
    const pool = candidates(2);
    createCacheFleet([{ id: 'w0', blockSize: BS, capacityBlocks: 1000 }]).serve('w0', tokens(BS * 200), index);
    const decision = router.route({ tokenIds: tokens(BS * 202) }, pool);
    expect(decision.workerId).toBe('w0');
    const booking = router.commit(decision);
    expect(() => router.commit(decision)).toThrow(/already committed/);
    expect(load.load('w0', 0)).toMatchObject({
      inflightRequests: 1,
      queuedPrefillTokens: BS * 2,
      activeDecodeBlocks: 202,
    });
    load.firstToken(booking, 1);
    expect(load.load('w0', 1)).toMatchObject({ inflightRequests: 1, queuedPrefillTokens: 0 });
  });

  it('answers with no worker when none is eligible, and commit says unavailable', () => {
    const { router } = core();
    const pool = candidates(2).map((c) => ({ ...c, healthy: false }));
    const decision = router.route({ tokenIds: tokens(64) }, pool);
    expect(decision.workerId).toBeNull();
    expect(decision.reason).toMatch(/no eligible worker: unhealthy/);
    expect(() => router.commit(decision)).toThrow(expect.objectContaining({ code: 'unavailable' }));
    expect(router.route({ tokenIds: tokens(64) }, []).reason).toBe('no candidate workers');
  });

  it('in approximate mode, follows its own earlier decisions until their TTL runs out', () => {
    const { router, load, clock } = core({ index_mode: 'approximate', index: { approximate_ttl_s: 10 } });
    const pool = candidates(4);
    const prompt = tokens(BS * 250);
    const first = router.route({ tokenIds: prompt }, pool);
    load.release(router.commit(first));
    const again = router.route({ tokenIds: [...prompt, 1, 2, 3] }, pool);
    expect(again.workerId).toBe(first.workerId);
    expect(again.candidates.find((c) => c.id === first.workerId)!.overlapBlocks).toBe(250);
    clock.advance(10_000);
    expect(router.route({ tokenIds: prompt }, pool).candidates.every((c) => c.overlapBlocks === 0)).toBe(true);
  });

  it('matches workers of another block size on their own blocks', () => {
    const { router, index } = core();
    const pool = [
      ...candidates(1, { blockSize: 16, prefix: 'small' }),
      ...candidates(1, { blockSize: 32, prefix: 'big' }),
    ];
    const prompt = tokens(32 * 100);
    // Workers are registered with their pool's block size before their events flow.
    index.registerWorker('big0', { blockSize: 32 });
    createCacheFleet([{ id: 'big0', blockSize: 32, capacityBlocks: 1000 }]).serve('big0', prompt, index);
    const decision = router.route({ tokenIds: prompt }, pool);
    expect(decision.candidates.map((c) => [c.id, c.overlapBlocks, c.cachedTokens])).toEqual([
      ['small0', 0, 0],
      ['big0', 100, 3199],
    ]);
    expect(decision.workerId).toBe('big0');
  });

  it("shows a worker's block-size mismatch with every decision", () => {
    const { router, index } = core();
    const pool = candidates(1);
    router.route({ tokenIds: tokens(64) }, pool);
    index.applyBatch('w0', {
      ts: 0,
      events: [
        {
          type: 'BlockStored',
          blockHashes: [1n],
          parentBlockHash: null,
          tokenIds: tokens(32),
          blockSize: 32,
          loraId: null,
          medium: 'GPU',
          loraName: null,
          extraKeys: null,
          groupIdx: null,
        },
      ],
      dataParallelRank: null,
    });
    expect(router.route({ tokenIds: tokens(64) }, pool).candidates[0]!.indexWarning).toMatch(
      /blocks of 32 tokens but its pool expects 16/,
    );
  });

  it('samples with a temperature, reports probabilities, and repeats for a seed', () => {
    const decide = () => {
      const { router, index } = core({ kv: { temperature: 1 }, seed: 7 });
      const pool = candidates(4);
      createCacheFleet([{ id: 'w3', blockSize: BS, capacityBlocks: 1000 }]).serve('w3', tokens(BS * 100), index);
      return Array.from({ length: 40 }, () => router.route({ tokenIds: tokens(BS * 100) }, pool));
    };
    const decisions = decide();
    const probabilities = decisions[0]!.candidates.map((c) => c.probability!);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(probabilities[3]).toBe(Math.max(...probabilities));
    expect(new Set(decisions.map((d) => d.workerId)).size).toBeGreaterThan(1);
    expect(decide().map((d) => d.workerId)).toEqual(decisions.map((d) => d.workerId));
  });
});
