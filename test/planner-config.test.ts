import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../common/config/index.ts';
import {
  createMeasuredPerf,
  createRooflinePerf,
  decodeOperatingPoint,
  parseMeasuredProfile,
  plannerOptionsFromConfig,
  resolvePools,
} from '../planner/index.ts';
import { engineProfile } from '../common/profiles/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-planner-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const errorOf = (raw: unknown) => {
  const result = parseConfig(raw);
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.error.message;
};

describe('planner config', () => {
  it('defaults to one prefill and one decode pool of Qwen3-8B on H100, TTFT 1 s, ITL 50 ms', () => {
    const config = parseConfig({});
    if (!config.ok) throw config.error;
    const options = plannerOptionsFromConfig(config.value);
    if (!options.ok) throw options.error;
    expect(options.value.slo).toEqual({ ttftS: 1, itlS: 0.05 });
    expect(options.value.pools.map((p) => [p.name, p.role, p.gpu, p.model, p.deployment])).toEqual([
      ['prefill', 'prefill', 'h100-sxm', 'qwen3-8b', 'tandem-prefill'],
      ['decode', 'decode', 'h100-sxm', 'qwen3-8b', 'tandem-decode'],
    ]);
  });

  it('rejects duplicate pool names, min above max, a missing role and a non-kebab name', () => {
    expect(
      errorOf({
        planner: {
          pools: [
            { name: 'a', role: 'prefill' },
            { name: 'a', role: 'decode' },
          ],
        },
      }),
    ).toContain('planner.pools.1.name: duplicate pool name "a"');
    expect(
      errorOf({
        planner: {
          pools: [
            { name: 'p', role: 'prefill', min_replicas: 5, max_replicas: 2 },
            { name: 'd', role: 'decode' },
          ],
        },
      }),
    ).toContain('planner.pools.0.min_replicas');
    expect(errorOf({ planner: { pools: [{ name: 'd', role: 'decode' }] } })).toContain(
      'needs at least one prefill pool',
    );
    expect(
      errorOf({
        planner: {
          pools: [
            { name: 'Prefill_1', role: 'prefill' },
            { name: 'd', role: 'decode' },
          ],
        },
      }),
    ).toContain('kebab-case');
    expect(errorOf({ planner: { hooks: { mode: 'webhook' } } })).toMatch(
      /planner\.hooks\.mode.*hpa.*keda.*direct.*none/,
    );
  });

  it('fails at start-up on an unknown link, naming the known ones', () => {
    const config = parseConfig({ planner: { kv_link: 'carrier-pigeon' } });
    if (!config.ok) throw config.error;
    const options = plannerOptionsFromConfig(config.value);
    expect(!options.ok && options.error.message).toMatch(/unknown link profile "carrier-pigeon" \(known: nvlink/);
  });
});

describe('measured profiles', () => {
  const measured = {
    prefill: [
      { tokens: 1000, seconds: 0.1 },
      { tokens: 4000, seconds: 0.5 },
    ],
    decode: [
      { batch: 1, context_tokens: 1000, step_seconds: 0.01 },
      { batch: 101, context_tokens: 1000, step_seconds: 0.03 },
      { batch: 1, context_tokens: 3000, step_seconds: 0.012 },
      { batch: 101, context_tokens: 3000, step_seconds: 0.05 },
    ],
    kv_capacity_tokens: 500000,
  };

  it('interpolates between measured points and extrapolates along the last segment', () => {
    const parsed = parseMeasuredProfile(measured, 'test');
    if (!parsed.ok) throw parsed.error;
    const perf = createMeasuredPerf(parsed.value, createRooflinePerf(engineProfile('h100-sxm', 'qwen3-8b')), 'h100');
    // Prefill: halfway between 1000 and 4000 tokens -> halfway between 0.1 and 0.5 s; 7000 tokens -> 0.9 s.
    expect(perf.prefillSeconds(2500, 0)).toBeCloseTo(0.3, 9);
    expect(perf.prefillSeconds(7000, 0)).toBeCloseTo(0.9, 9);
    // Decode at batch 51: 0.02 s at context 1000, 0.031 s at 3000; at context 2000 -> 0.0255 s.
    expect(perf.decodeStepSeconds(51, 2000)).toBeCloseTo(0.0255, 9);
    expect(perf.kvCapacityTokens).toBe(500000);
    // ITL 20 ms at context 1000 (isl 500 + osl 1000 / 2): step 0.01 + 0.0002 (b - 1) <= 0.02 => b = 51.
    expect(decodeOperatingPoint(perf, 500, 1000, 0.02, 1).batch).toBe(51);
  });

  it('rejects a malformed profile, naming the field', () => {
    const bad = parseMeasuredProfile(
      { ...measured, decode: [{ batch: 1, context_tokens: -5, step_seconds: 0.01 }] },
      'profile',
    );
    expect(!bad.ok && bad.error.message).toBe(
      'profile: decode.0 needs positive numbers "batch", "context_tokens" and "step_seconds"',
    );
    const extra = parseMeasuredProfile({ ...measured, gpu: 'h100' }, 'profile');
    expect(!extra.ok && extra.error.message).toContain('gpu is not a known key');
  });

  it('prices a pool from its profile file instead of the roofline', () => {
    const file = join(dir, 'h100.json');
    writeFileSync(file, JSON.stringify(measured));
    const pools = resolvePools({
      pools: [
        {
          name: 'p',
          role: 'prefill',
          gpu: 'h100-sxm',
          model: 'qwen3-8b',
          tp: 1,
          min_replicas: 1,
          max_replicas: 4,
          profile_file: file,
        },
        { name: 'd', role: 'decode', gpu: 'h100-sxm', model: 'qwen3-8b', tp: 1, min_replicas: 1, max_replicas: 4 },
      ],
    });
    if (!pools.ok) throw pools.error;
    expect(pools.value[0]!.perf.label).toContain('(measured)');
    expect(pools.value[0]!.perf.prefillSeconds(2500, 0)).toBeCloseTo(0.3, 9);
    expect(pools.value[1]!.perf.label).toContain('(roofline)');
    const missing = resolvePools({
      pools: [
        {
          name: 'p',
          role: 'prefill',
          gpu: 'h100-sxm',
          model: 'qwen3-8b',
          tp: 1,
          min_replicas: 1,
          max_replicas: 4,
          profile_file: join(dir, 'nope.json'),
        },
      ],
    });
    expect(!missing.ok && missing.error.message).toContain('no such file');
  });
});
