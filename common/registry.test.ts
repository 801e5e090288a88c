import { describe, expect, it } from 'vitest';
import { findByName, getByName } from './registry.ts';

const TABLE = { kv: 1, random: 2 };

describe('registry lookups', () => {
  it('finds an entry by its name', () => {
    expect(findByName(TABLE, 'random', 'routing policy', 'routing.policy')).toEqual({ ok: true, value: 2 });
    expect(getByName(TABLE, 'kv', 'routing policy', 'routing.policy')).toBe(1);
  });

  it('refuses an unknown name, listing the known ones on the config field', () => {
    const found = findByName(TABLE, 'kvv', 'routing policy', 'routing.policy');
    expect(found.ok).toBe(false);
    if (!found.ok) {
      expect(found.error.message).toBe('unknown routing policy "kvv" (known: kv, random)');
      expect(found.error.param).toBe('routing.policy');
    }
    expect(() => getByName(TABLE, 'kvv', 'routing policy', 'routing.policy')).toThrow('unknown routing policy "kvv"');
  });

  it('does not take inherited properties for entries', () => {
    expect(findByName(TABLE, 'toString', 'routing policy', 'routing.policy').ok).toBe(false);
  });
});
