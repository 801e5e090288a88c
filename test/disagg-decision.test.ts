import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../common/clock.ts';
import { parseConfig } from '../common/config/index.ts';
import { engineProfile, kvBlockBytes, linkProfile, prefillSeconds, transferSeconds } from '../common/profiles/index.ts';
import { createDisaggregator, disaggOptionsFromConfig, type DisaggDecision } from '../orchestrator/disagg/index.ts';
import { createRoutingCore, type Candidate } from '../orchestrator/routing/index.ts';
import { createCacheFleet } from './fakes/prefix-cache.ts';

const BS = 16;
const profile = engineProfile('h100-sxm', 'qwen3-8b');

/** A fleet of `prefill` prefill workers (p0..) and `decode` decode workers (d0..) behind one routing core. */
function setup(disaggregation: Record<string, unknown> = {}, fleet = { prefill: 2, decode: 2 }) {
  const config = parseConfig({ disaggregation, routing: { block_size: BS } });
  if (!config.ok) throw config.error;
  const clock = createVirtualClock();
  const core = createRoutingCore(config.value.routing, { clock });
  const disagg = createDisaggregator({
    ...core,
    clock,
    hashSeed: config.value.routing.hash_seed,
    options: disaggOptionsFromConfig(config.value),
  });
  const pool: Candidate[] = [
    ...Array.from({ length: fleet.prefill }, (_, i) => ({
      id: `p${i}`,
      role: 'prefill' as const,
      profile,
      blockSize: BS,
      healthy: true,
    })),
    ...Array.from({ length: fleet.decode }, (_, i) => ({
      id: `d${i}`,
      role: 'decode' as const,
      profile,
      blockSize: BS,
      healthy: true,
    })),
  ];
  const toy = createCacheFleet(pool.map((c) => ({ id: c.id, blockSize: BS, capacityBlocks: 100_000 })));
  /** Makes `worker` cache `prompt` (its index learns through KV events). */
  const cache = (worker: string, prompt: readonly number[]) => toy.serve(worker, prompt, core.index);
  /** Books `sequences` decoding requests (64 KV blocks each) on every decode worker: a batch a local prefill would stall. */
  const busy = (sequences: number) => {
    for (const c of pool)
      if (c.role === 'decode')
        for (let i = 0; i < sequences; i++) core.load.book(c.id, { prefillTokens: 0, decodeBlocks: 64 }, clock.now());
  };
  return { ...core, clock, disagg, pool, cache, busy };
}

/** `count` token ids starting at `start` (distinct ranges share nothing). */
const tokens = (count: number, start: number): number[] => Array.from({ length: count }, (_, i) => start + i);

describe('the disaggregation decision', () => {
  it('aggregates prompts whose uncached part is within the threshold and disaggregates those above it from a busy decode batch', () => {
    const T = 1024;
    const { disagg, pool, cache, busy } = setup({ mode: 'auto', threshold_tokens: T });
    // 16 sequences decoding on each decode worker: a local prefill above T would stall them all.
    busy(16);
    // d0 and d1 both cache the same 3,200-token system prompt; prompts add fresh tokens after it.
    const system = tokens(3200, 1);
    cache('d0', system);
    cache('d1', system);
    const verdicts = [0, 500, 1000, T, T + 1, 1100, 1500, 4000].map((fresh, i) => {
      const prompt = [...system, ...tokens(fresh, 100_000 * (i + 1))];
      const decision = disagg.decide({ tokenIds: prompt, maxTokens: 64 }, pool);
      return { fresh, uncached: decision.uncachedTokens!, disaggregate: decision.disaggregate };
    });
    for (const v of verdicts) {
      // The cached prefix is counted: only the fresh tokens (and a partial block's worth) are uncached.
      expect(v.uncached).toBeGreaterThanOrEqual(Math.max(1, v.fresh));
      expect(v.uncached).toBeLessThan(v.fresh + BS + 1);
      expect(v.disaggregate).toBe(v.uncached > T);
    }
    expect(verdicts.filter((v) => v.disaggregate).map((v) => v.fresh)).toEqual([T + 1, 1100, 1500, 4000]);
    // The same 4,000 fresh tokens without the cached prefix are still above; 900 with a cold cache are not.
    expect(disagg.decide({ tokenIds: tokens(900, 9_000_000), maxTokens: 64 }, pool).disaggregate).toBe(false);
    expect(disagg.decide({ tokenIds: tokens(1200, 9_500_000), maxTokens: 64 }, pool).disaggregate).toBe(true);
  });

  it('keeps a prompt above the threshold on an idle decode worker: nothing to stall, and remote adds the transfer', () => {
    const { disagg, pool } = setup({ mode: 'auto', threshold_tokens: 256 });
    const decision = disagg.decide({ tokenIds: tokens(4000, 1), maxTokens: 64 }, pool);
    expect(decision.disaggregate).toBe(false);
    expect(decision.workerId).toMatch(/^d/);
    expect(decision.placement).toMatchObject({ remote: false, stallSeconds: 0, stalledSequences: 0 });
    expect(decision.placement!.remoteTtftSeconds).toBeGreaterThan(decision.placement!.localCostSeconds);
    expect(decision.reason).toMatch(/local prefill is cheaper/);
  });

  it('never disaggregates in mode never, and always does in mode always, short prompts too', () => {
    const long = tokens(8000, 1);
    const never = setup({ mode: 'never' });
    const decision = never.disagg.decide({ tokenIds: long, maxTokens: 64 }, never.pool);
    expect(decision.disaggregate).toBe(false);
    expect(decision.workerId).toMatch(/^d/);
    expect(decision.prefill).toBeNull();
    const always = setup({ mode: 'always' });
    const short = always.disagg.decide({ tokenIds: tokens(40, 1), maxTokens: 64 }, always.pool);
    expect(short.disaggregate).toBe(true);
    expect(short.prefillWorkerId).toMatch(/^p/);
    expect(short.decodeWorkerId).toMatch(/^d/);
  });

  it('prefills locally while the prefill pool is backed up past the stall, and remotely again once it drains', () => {
    const { disagg, pool, load, clock, busy } = setup({ mode: 'auto', threshold_tokens: 256 });
    busy(4);
    const prompt = tokens(4000, 1);
    const first = disagg.decide({ tokenIds: prompt, maxTokens: 64 }, pool);
    expect(first.disaggregate).toBe(true);
    expect(first.placement!.remote).toBe(true);
    // The stall on 4 sequences outweighs the transfer, but not 200k queued tokens on each prefill worker (seconds of work).
    const bookings = ['p0', 'p1'].map((id) => load.book(id, { prefillTokens: 200_000, decodeBlocks: 0 }, clock.now()));
    const backedUp = disagg.decide({ tokenIds: prompt, maxTokens: 64 }, pool);
    expect(backedUp.disaggregate).toBe(false);
    expect(backedUp.prefillQueueSeconds!).toBeGreaterThan(backedUp.placement!.localCostSeconds);
    expect(backedUp.placement!.remoteTtftSeconds).toBeGreaterThan(backedUp.placement!.localCostSeconds);
    // Seconds of queue remotely, a 0.1 s prefill locally: only local meets the 1 s TTFT target.
    expect(backedUp.reason).toMatch(/only local prefill meets the TTFT target/);
    for (const id of bookings) load.firstToken(id, clock.now());
    expect(disagg.decide({ tokenIds: prompt, maxTokens: 64 }, pool).disaggregate).toBe(true);
  });

  it("counts a prompt still prefilling remotely after a report dropped it, until its first token: the router's bookings floor the remote wait", () => {
    const { disagg, pool, load, clock, busy } = setup({ mode: 'auto', threshold_tokens: 256 });
    busy(16);
    // On each prefill worker a 16,000-token prompt A is in its last chunk and a 30,000-token B waits behind it.
    const booked = ['p0', 'p1'].map((id) => ({
      id,
      a: load.book(id, { prefillTokens: 16_000, decodeBlocks: 0 }, clock.now()),
      b: load.book(id, { prefillTokens: 30_000, decodeBlocks: 0 }, clock.now()),
    }));
    // The workers report while A's last step runs: A no longer counts, B's 30,000 tokens do.
    clock.advance(100);
    for (const { id } of booked)
      load.report(id, { runningRequests: 2, waitingRequests: 0, queuedPrefillTokens: 30_000 }, clock.now());
    // A's first token comes back: its booking goes, and the correction subtracts it a second time.
    clock.advance(200);
    for (const { a } of booked) load.firstToken(a, clock.now());
    const p0 = load.load('p0', clock.now());
    expect(p0.queuedPrefillTokens).toBe(14_000); // 30,000 + (30,000 - 46,000)
    expect(p0.booked.queuedPrefillTokens).toBe(30_000);
    // An 8,000-token prompt, 16 sequences decoding on every decode worker. Hand check (Qwen3-8B,
    // one H100, 31.5 us a queued token): B alone is 0.945 s of wait, so remote is 0.945 s + its
    // 0.28 s prefill + the transfer, past the 1 s target; local is 0.28 s beside the batch and
    // meets it. With the corrected 14,000 tokens (0.44 s) remote would seem to meet it too, and
    // the stall on 16 sequences would send the prompt there.
    const decision = disagg.decide({ tokenIds: tokens(8000, 1), maxTokens: 64 }, pool);
    const perToken = prefillSeconds(profile, 2048) / 2048;
    const remote = decision.prefill!.candidates.find((c) => c.id === decision.prefill!.workerId)!;
    expect(perToken * 30_000).toBeCloseTo(0.945, 3);
    expect(decision.placement!.remoteTtftSeconds).toBeGreaterThan(30_000 * perToken + remote.cost.prefillSeconds);
    expect(decision.placement!.remoteTtftSeconds).toBeGreaterThan(1);
    expect(decision.placement!.localTtftSeconds).toBeLessThan(0.3);
    expect(decision.disaggregate).toBe(false);
    expect(decision.reason).toMatch(/only local prefill meets the TTFT target: remote .* \(wait 945\.\d ms/);
    // B's first token: nothing is queued on either side any more, and the stall sends the prompt remote.
    for (const { b } of booked) load.firstToken(b, clock.now());
    expect(disagg.decide({ tokenIds: tokens(8000, 1), maxTokens: 64 }, pool).disaggregate).toBe(true);
  });

  it('prefers the decode worker that caches part of the prompt over an equally loaded one that caches nothing', () => {
    const { disagg, pool, cache, load, clock } = setup({ mode: 'always' });
    const prompt = tokens(6000, 1);
    // d1 caches the first 4,000 tokens; both decode workers carry the same booked load.
    cache('d1', prompt.slice(0, 4000));
    for (const id of ['d0', 'd1']) load.book(id, { prefillTokens: 0, decodeBlocks: 300 }, clock.now());
    const decision = disagg.decide({ tokenIds: prompt, maxTokens: 256 }, pool);
    expect(decision.decodeWorkerId).toBe('d1');
    const [d0, d1] = ['d0', 'd1'].map((id) => decision.decode!.candidates.find((c) => c.id === id)!);
    expect(d1!.cachedBlocks).toBe(250);
    expect(d0!.cachedBlocks).toBe(0);
    expect(d1!.terms.decodeSeconds).toBeCloseTo(d0!.terms.decodeSeconds, 12);
    // The transfer term is exactly the link model's time for the blocks each would pull.
    const link = linkProfile('ib-400g');
    const blockBytes = kvBlockBytes(profile.model, BS);
    expect(d0!.pullBlocks).toBe(375);
    expect(d1!.pullBlocks).toBe(125);
    expect(d0!.terms.transferSeconds).toBeCloseTo(transferSeconds(link, 375 * blockBytes), 12);
    expect(d1!.terms.transferSeconds).toBeCloseTo(transferSeconds(link, 125 * blockBytes), 12);
  });

  it('still sends the decode to an idle worker over a busy one that caches the prompt, when the load outweighs the transfer', () => {
    const { disagg, pool, cache, load, clock } = setup({ mode: 'always' });
    const prompt = tokens(2000, 1);
    cache('d1', prompt);
    for (let i = 0; i < 60; i++) load.book('d1', { prefillTokens: 0, decodeBlocks: 400 }, clock.now());
    const decision = disagg.decide({ tokenIds: prompt, maxTokens: 512 }, pool);
    expect(decision.decodeWorkerId).toBe('d0');
    const d1 = decision.decode!.candidates.find((c) => c.id === 'd1')!;
    expect(d1.terms.transferSeconds).toBe(0);
    expect(d1.terms.decodeSeconds).toBeGreaterThan(
      decision.decode!.candidates.find((c) => c.id === 'd0')!.terms.totalSeconds,
    );
  });

  it('leaves out a decode worker whose KV cache cannot take the request', () => {
    const { disagg, pool, load, clock } = setup({ mode: 'always' });
    const d0 = disagg
      .decide({ tokenIds: tokens(100, 1), maxTokens: 16 }, pool)
      .decode!.candidates.find((c) => c.id === 'd0')!;
    load.book('d0', { prefillTokens: 0, decodeBlocks: d0.kvCapacityBlocks - 2 }, clock.now());
    const decision = disagg.decide({ tokenIds: tokens(3000, 1), maxTokens: 16 }, pool);
    expect(decision.decodeWorkerId).toBe('d1');
    expect(decision.decode!.candidates.find((c) => c.id === 'd0')!.excluded).toMatch(/KV cache full/);
  });

  it('books both sides on commit, and the load book returns to zero when they are released', () => {
    const { disagg, pool, load, clock } = setup({ mode: 'always' });
    const decision = disagg.decide({ tokenIds: tokens(3000, 1), maxTokens: 64 }, pool);
    const bookings = disagg.commit(decision);
    const prefillLoad = load.load(decision.prefillWorkerId!, clock.now());
    expect(prefillLoad.queuedPrefillTokens).toBe(
      decision.prefill!.candidates.find((c) => c.id === decision.prefillWorkerId)!.newTokens,
    );
    expect(load.load(decision.decodeWorkerId!, clock.now()).activeDecodeBlocks).toBe(Math.ceil(3000 / BS));
    load.firstToken(bookings.first, clock.now());
    load.release(bookings.first);
    load.release(bookings.decode!);
    for (const c of pool)
      expect(load.load(c.id, clock.now())).toMatchObject({
        inflightRequests: 0,
        queuedPrefillTokens: 0,
        activeDecodeBlocks: 0,
      });
    expect(() => disagg.commit(decision)).toThrow(/already committed/);
  });

  it('explains itself in plain JSON, and a dry run cannot be committed', () => {
    const { disagg, pool, busy } = setup({ mode: 'auto', threshold_tokens: 100 });
    busy(16);
    const decision = disagg.decide({ tokenIds: tokens(3000, 1), maxTokens: 64 }, pool, { dryRun: true });
    const json = JSON.parse(JSON.stringify(decision)) as DisaggDecision;
    expect(json.disaggregate).toBe(true);
    expect(json.reasons.length).toBeGreaterThanOrEqual(3);
    expect(json.prefill!.candidates.map((c) => c.id)).toEqual(['p0', 'p1']);
    expect(json.decode!.candidates.map((c) => Object.keys(c.terms).sort())).toEqual([
      ['decodeSeconds', 'queueSeconds', 'totalSeconds', 'transferSeconds'],
      ['decodeSeconds', 'queueSeconds', 'totalSeconds', 'transferSeconds'],
    ]);
    expect(Object.keys(json.placement!).sort()).toEqual([
      'localCostSeconds',
      'localTtftSeconds',
      'remote',
      'remoteTtftSeconds',
      'stallSeconds',
      'stalledSequences',
      'ttftTargetSeconds',
    ]);
    expect(() => disagg.commit(decision)).toThrow(/dry-run/);
  });

  it('follows a retuned threshold', () => {
    const { disagg, pool, busy } = setup({ mode: 'auto', threshold_tokens: 4096 });
    busy(16);
    const prompt = tokens(3000, 1);
    expect(disagg.decide({ tokenIds: prompt, maxTokens: 64 }, pool).disaggregate).toBe(false);
    disagg.setThresholdTokens(2048);
    expect(disagg.thresholdTokens).toBe(2048);
    expect(disagg.decide({ tokenIds: prompt, maxTokens: 64 }, pool).disaggregate).toBe(true);
  });

  it('serves aggregated when there is no prefill pool, and refuses when there is no decode-capable worker', () => {
    const noPrefill = setup({ mode: 'always' }, { prefill: 0, decode: 2 });
    const decision = noPrefill.disagg.decide({ tokenIds: tokens(3000, 1), maxTokens: 64 }, noPrefill.pool);
    expect(decision.disaggregate).toBe(false);
    expect(decision.reason).toMatch(/no prefill pool/);
    const noDecode = setup({ mode: 'always' }, { prefill: 2, decode: 0 });
    const refused = noDecode.disagg.decide({ tokenIds: tokens(3000, 1), maxTokens: 64 }, noDecode.pool);
    expect(refused.workerId).toBeNull();
    expect(() => noDecode.disagg.commit(refused)).toThrow(/no decode-capable worker/);
  });
});
