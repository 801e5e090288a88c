import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../common/rng.ts';
import { createBlockHasher } from '../hashing/index.ts';
import { createKvIndex, INDEX_MODES, type KvIndexOptions } from './create-index.ts';
import {
  createSharedPrefixPrompts,
  createKvEventSource,
  randomBatch,
  type SharedPrefixPrompts,
} from './testing/random-events.ts';
import { ReferenceApproximateIndex, ReferencePreciseIndex } from './testing/reference-index.ts';
import type { IndexMode, KvIndex } from './types.ts';

/**
 * Every index mode against its reference model on seeded random streams: after every step the
 * overlap of random prompts on every tenant (and on an unknown one) must match, and every few
 * steps so must the per-tenant counters.
 */
const SEED = 1337;
const options: KvIndexOptions = {
  hashSeed: SEED,
  defaultBlockSize: 4,
  maxParkedRuns: 3,
  ttlMs: 1_000,
  maxBlocks: 300,
  pruneToFraction: 0.8,
  // A reset worker's blocks are released a few entries per batch, so drains interleave with
  // everything else the streams do.
  drainEntries: 3,
};
const TENANTS = [
  { id: 'w0', blockSize: 4 },
  { id: 'w1', blockSize: 4 },
  { id: 'w2@1', blockSize: 4 },
  { id: 'w3', blockSize: 8 },
];
const hasher = createBlockHasher(SEED);

interface Outcome {
  /** Overlap answers compared; positives among them (so a run that never matched fails). */
  queries: number;
  positive: number;
}

function checkQueries(
  rng: Rng,
  prompts: SharedPrefixPrompts,
  index: KvIndex,
  expected: (id: string, chain: ReturnType<typeof hasher.hashPrompt>) => number,
  outcome: Outcome,
): void {
  const ids = [...TENANTS.map((t) => t.id), 'nobody'];
  for (let q = 0; q < 4; q++) {
    const blockSize = rng.pick([4, 8]);
    const namespace = rng.next() < 0.15 ? 'lora-x' : undefined;
    const chain = hasher.hashPrompt(prompts.prompt(blockSize), blockSize, namespace);
    const got = index.overlaps(chain, ids);
    const want = ids.map((id) => expected(id, chain));
    expect([...got]).toEqual(want);
    outcome.queries += want.length;
    outcome.positive += want.filter((n) => n > 0).length;
  }
}

const DRIVERS: Record<IndexMode, (seed: number) => Outcome> = {
  precise(seed) {
    const rng = createRng(`precise-${seed}`);
    const prompts = createSharedPrefixPrompts(rng.fork('prompts'));
    const index = createKvIndex('precise', options);
    const ref = new ReferencePreciseIndex(SEED, options.defaultBlockSize, options.maxParkedRuns ?? 256);
    const engines = TENANTS.map((t) => createKvEventSource(t.id, t.blockSize));
    for (const t of TENANTS) {
      index.registerWorker(t.id, { blockSize: t.blockSize });
      ref.tenant(t.id, t.blockSize);
    }
    const outcome = { queries: 0, positive: 0 };
    for (let step = 0; step < 400; step++) {
      const engine = rng.pick(engines);
      const batch = randomBatch(rng, engine, prompts, step);
      index.applyBatch(engine.tenant, batch);
      ref.applyBatch(engine.tenant, batch);
      if (rng.next() < 0.02) {
        const victim = rng.pick(engines);
        index.clearWorker(victim.tenant, 'test');
        ref.clear(victim.tenant);
        victim.cached.clear();
      }
      checkQueries(rng, prompts, index, (id, chain) => ref.overlap(id, chain), outcome);
      if (step % 20 === 0 || step === 399) {
        for (const t of TENANTS) {
          const got = index.workerStats(t.id)!;
          const want = ref.tenants.get(t.id)!;
          const counters = Object.fromEntries(
            Object.keys(want.counters).map((key) => [key, got[key as keyof typeof want.counters]]),
          );
          expect({
            ...counters,
            indexedBlocks: got.indexedBlocks,
            engineBlocks: got.engineBlocks,
            parkedRuns: got.parkedRuns,
          }).toEqual({
            ...want.counters,
            indexedBlocks: want.refs.size,
            engineBlocks: want.engine.size,
            parkedRuns: want.parked.length,
          });
        }
      }
    }
    return outcome;
  },

  approximate(seed) {
    const rng = createRng(`approximate-${seed}`);
    const prompts = createSharedPrefixPrompts(rng.fork('prompts'));
    const index = createKvIndex('approximate', options);
    const ref = new ReferenceApproximateIndex(
      options.ttlMs,
      options.maxBlocks,
      Math.floor(options.maxBlocks * options.pruneToFraction),
    );
    for (const t of TENANTS) {
      index.registerWorker(t.id, { blockSize: t.blockSize });
      ref.tenant(t.id, t.blockSize);
    }
    const outcome = { queries: 0, positive: 0 };
    let now = 0;
    for (let step = 0; step < 400; step++) {
      now += rng.int(120);
      const roll = rng.next();
      if (roll < 0.75) {
        const t = rng.pick(TENANTS);
        const chain = hasher.hashPrompt(prompts.prompt(t.blockSize), t.blockSize);
        index.recordRouted(t.id, chain, now);
        ref.record(t.id, chain, now);
      } else if (roll < 0.97) {
        index.expire(now);
        ref.expire(now);
      } else {
        const t = rng.pick(TENANTS);
        index.clearWorker(t.id, 'test');
        ref.clear(t.id);
      }
      checkQueries(rng, prompts, index, (id, chain) => ref.overlap(id, chain), outcome);
      for (const t of TENANTS) {
        expect(index.indexedBlocks(t.id)).toBe(ref.tenants.get(t.id)!.entries.size);
        expect(index.workerStats(t.id)!.expiredBlocks).toBe(ref.tenants.get(t.id)!.expired);
      }
    }
    return outcome;
  },
};

describe('KV index conformance (every mode against its reference model)', () => {
  for (const mode of Object.keys(INDEX_MODES) as IndexMode[]) {
    describe(`${mode} mode`, () => {
      it('has a conformance driver', () => {
        expect(DRIVERS[mode], `no conformance driver for index mode ${mode}`).toBeTypeOf('function');
      });
      for (const seed of [1, 2, 3, 4, 5]) {
        it(`matches the reference on seeded random stream ${seed}`, () => {
          const outcome = DRIVERS[mode](seed);
          expect(outcome.queries).toBeGreaterThan(1000);
          // The stream must exercise real matches, not only misses.
          expect(outcome.positive).toBeGreaterThan(outcome.queries / 20);
        });
      }
    });
  }
});
