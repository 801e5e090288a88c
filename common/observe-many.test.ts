import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { observeMany } from './observe-many.ts';
import { createRng } from './rng.ts';

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 1];

function pair() {
  const make = () => {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 't_gap_seconds',
      help: 'Gaps.',
      labelNames: ['mode'],
      buckets: BOUNDS,
      registers: [registry],
    });
    return { registry, histogram };
  };
  return { one: make(), many: make() };
}

describe('observeMany', () => {
  it('leaves a histogram exactly as observe() of each value in order would (buckets, count, sum), over random batches and label sets', async () => {
    const rng = createRng('observe-many');
    const { one, many } = pair();
    for (let batch = 0; batch < 200; batch++) {
      const mode = ['aggregated', 'disaggregated', 'none'][Math.floor(rng.next() * 3)]!;
      const values: number[] = [];
      const n = Math.floor(rng.next() * 70);
      for (let i = 0; i < n; i++) {
        const pick = rng.next();
        // Exact bounds, zero, values past the last bound, and ordinary gaps.
        values.push(
          pick < 0.15
            ? BOUNDS[Math.floor(rng.next() * BOUNDS.length)]!
            : pick < 0.2
              ? 0
              : pick < 0.25
                ? 2 + rng.next()
                : rng.next() * 0.12,
        );
      }
      for (const value of values) one.histogram.observe({ mode }, value);
      observeMany(many.histogram, { mode }, values);
    }
    const text = await one.registry.metrics();
    expect(text).toContain('t_gap_seconds_bucket{le="+Inf",mode="none"}');
    expect(await many.registry.metrics()).toBe(text);
    // The cluster primary's view (every serving process's series, summed) reads the same.
    const aggregate = async (registry: Registry) =>
      await AggregatorRegistry.aggregate([await registry.getMetricsAsJSON()]).metrics();
    expect(await aggregate(many.registry)).toBe(await aggregate(one.registry));
  });

  it('starts a series on its first values, keeps counting after reset() and remove(), and throws on a value that is not a number', async () => {
    const { one, many } = pair();
    for (const h of [one.histogram, many.histogram]) {
      h.observe({ mode: 'a' }, 0.003);
      h.reset();
    }
    const values = [0.0001, 0.02, 5, 0.0025];
    for (const v of values) one.histogram.observe({ mode: 'b' }, v);
    observeMany(many.histogram, { mode: 'b' }, values);
    one.histogram.remove({ mode: 'b' });
    many.histogram.remove({ mode: 'b' });
    for (const v of values) one.histogram.observe({ mode: 'b' }, v);
    observeMany(many.histogram, { mode: 'b' }, values);
    observeMany(many.histogram, { mode: 'c' }, []);
    expect(await many.registry.metrics()).toBe(await one.registry.metrics());
    expect(() => observeMany(many.histogram, { mode: 'b' }, [0.1, Number.NaN])).toThrow(TypeError);
  });
});
