import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config/index.ts';
import { createPolicy, POLICIES, policyNames } from './registry.ts';

const config = () => {
  const parsed = parseConfig({});
  if (!parsed.ok) throw parsed.error;
  return parsed.value.routing;
};

describe('policy registry', () => {
  it('builds every registered policy under its own name', () => {
    for (const name of policyNames()) expect(createPolicy(name, config()).name).toBe(name);
    expect(Object.keys(POLICIES)).toEqual([
      'kv',
      'cache-aware',
      'round-robin',
      'random',
      'least-loaded',
      'power-of-two',
      'session',
    ]);
  });

  it('fails on an unknown name, listing the known ones', () => {
    expect(() => createPolicy('fastest', config())).toThrow(
      /unknown routing policy "fastest" \(known: kv, cache-aware, round-robin, random, least-loaded, power-of-two, session\)/,
    );
  });

  it('defaults to the kv policy', () => {
    expect(config().policy).toBe('kv');
  });
});
