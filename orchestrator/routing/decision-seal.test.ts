import { describe, expect, it } from 'vitest';
import { committableSeal, type Seal } from './decision-seal.ts';

const KEY = Symbol('test.internal');
const owner = Symbol('maker');
const sealed = (seal: Seal) => ({ workerId: 'w0', [KEY]: seal });

describe('committableSeal', () => {
  it("returns the maker's own seal, without marking it", () => {
    const seal = { owner, dryRun: false, committed: false };
    expect(committableSeal(sealed(seal), KEY, owner, 'router')).toBe(seal);
    expect(seal.committed).toBe(false);
  });

  it('refuses a decision without a seal, or another maker’s', () => {
    expect(() => committableSeal({ workerId: 'w0' }, KEY, owner, 'router')).toThrow(/made by this router/);
    const theirs = sealed({ owner: Symbol('maker'), dryRun: false, committed: false });
    expect(() => committableSeal(theirs, KEY, owner, 'disaggregator')).toThrow(/made by this disaggregator/);
  });

  it('refuses a dry run and a second commit, naming the decision', () => {
    expect(() => committableSeal(sealed({ owner, dryRun: true, committed: false }), KEY, owner, 'router')).toThrow(
      /dry-run/,
    );
    const done = sealed({ owner, dryRun: false, committed: true });
    expect(() => committableSeal(done, KEY, owner, 'router', 'decision for w0')).toThrow(
      /decision for w0 already committed/,
    );
  });
});
