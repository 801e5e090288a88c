import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../common/config/index.ts';
import { createPlannerFromConfig, type Decision, type Observation } from '../planner/index.ts';

const INTERVAL_MS = 30_000;

function plannerFor(planner: ConfigInput['planner'] = {}) {
  const config = parseConfig({ planner });
  if (!config.ok) throw config.error;
  const built = createPlannerFromConfig(config.value);
  if (!built.ok) throw built.error;
  return built.value.planner;
}

/** Feeds `count` intervals of one traffic mix; returns every decision. */
function drive(
  planner: ReturnType<typeof plannerFor>,
  startMs: number,
  count: number,
  mix: Omit<Observation, 'atMs' | 'intervalS'>,
): Decision[] {
  return Array.from({ length: count }, (_, i) => {
    const atMs = startMs + (i + 1) * INTERVAL_MS;
    planner.observe({ atMs, intervalS: 30, ...mix });
    return planner.decide(atMs);
  });
}

const ratio = (decision: Decision) => decision.prefillReplicas / decision.decodeReplicas;

describe('planner under a shifting ISL/OSL mix', () => {
  it('moves the P:D ratio toward prefill when prompts grow and answers shrink, and back', () => {
    const planner = plannerFor();
    // Chat-like: short prompts, long answers. Then summarisation-like: long prompts, short answers.
    // The window (300 s = 10 intervals) has passed by the end of each 20-interval phase.
    const chat = { requestRate: 30, islMean: 200, oslMean: 2000, prefixHitRate: 0 };
    const summarise = { requestRate: 30, islMean: 8000, oslMean: 150, prefixHitRate: 0 };
    const a = drive(planner, 0, 20, chat).at(-1)!;
    const b = drive(planner, 20 * INTERVAL_MS, 20, summarise).at(-1)!;
    const c = drive(planner, 40 * INTERVAL_MS, 20, chat).at(-1)!;

    expect(b.prefillReplicas).toBeGreaterThan(a.prefillReplicas);
    expect(b.decodeReplicas).toBeLessThan(a.decodeReplicas);
    expect(ratio(b)).toBeGreaterThan(ratio(a) * 4);
    // Back to chat: prefill shrinks, decode grows again (to at least the chat-phase size: the
    // headroom rule may keep one replica more after the predictor's overshoot on the way up).
    expect(c.prefillReplicas).toBeLessThan(b.prefillReplicas);
    expect(c.decodeReplicas).toBeGreaterThanOrEqual(a.decodeReplicas);
    expect(ratio(c)).toBeLessThan(ratio(b) / 4);
  });

  it('needs less prefill for the same prompts when the prefix cache is warm', () => {
    const cold = drive(plannerFor(), 0, 3, { requestRate: 30, islMean: 8000, oslMean: 150, prefixHitRate: 0 }).at(-1)!;
    const warm = drive(plannerFor(), 0, 3, { requestRate: 30, islMean: 8000, oslMean: 150, prefixHitRate: 0.75 }).at(
      -1,
    )!;
    // Effective ISL 2000 instead of 8000: a quarter of the prefill work (a little more, attention over the cached prefix).
    expect(warm.prefillReplicas).toBeLessThan(cold.prefillReplicas / 2);
    expect(warm.decodeReplicas).toBe(cold.decodeReplicas);
  });

  it('holds its sizes on a steady load with noise through the whole pipeline', () => {
    const planner = plannerFor({ predictor: { kind: 'holt' } });
    let seed = 7;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return 1 + ((seed / 2147483648) * 2 - 1) * 0.08;
    };
    const decisions = Array.from({ length: 200 }, (_, i) => {
      const atMs = (i + 1) * INTERVAL_MS;
      planner.observe({
        atMs,
        intervalS: 30,
        requestRate: 12 * noise(),
        islMean: 3000 * noise(),
        oslMean: 400 * noise(),
        prefixHitRate: 0.3,
      });
      return planner.decide(atMs);
    });
    for (const role of ['prefillReplicas', 'decodeReplicas'] as const) {
      const series = decisions.slice(10).map((d) => d[role]);
      // After settling, never a step down, at most one step up: no flapping.
      expect(series.slice(1).filter((n, i) => n !== series[i]!).length).toBeLessThanOrEqual(1);
      expect(series.slice(1).every((n, i) => n >= series[i]!)).toBe(true);
    }
  });

  it('keeps every pool within its bounds and the shared GPU budget', () => {
    const planner = plannerFor({
      gpu_budget: 12,
      pools: [
        { name: 'prefill-h100', role: 'prefill', gpu: 'h100-sxm', max_replicas: 4 },
        { name: 'prefill-l40s', role: 'prefill', gpu: 'l40s', max_replicas: 16 },
        { name: 'decode-h100', role: 'decode', gpu: 'h100-sxm', tp: 2, min_replicas: 1, max_replicas: 8 },
      ],
    });
    const decision = drive(planner, 0, 3, { requestRate: 60, islMean: 8000, oslMean: 400, prefixHitRate: 0 }).at(-1)!;
    expect(decision.gpus).toBeLessThanOrEqual(12);
    for (const pool of decision.pools) {
      expect(pool.replicas).toBeGreaterThanOrEqual(pool.minReplicas);
      expect(pool.replicas).toBeLessThanOrEqual(pool.maxReplicas);
    }
    // The H100 prefill pool (more tokens/s per GPU) is filled before the L40S one.
    expect(decision.pools.find((p) => p.name === 'prefill-h100')!.demand).toBeGreaterThan(0);
    expect(decision.reasons.some((r) => r.startsWith('GPU budget 12'))).toBe(true);
  });
});
