import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth } from './json-depth.ts';

describe('JSON depth scan', () => {
  it('counts only brackets outside strings, escapes included', () => {
    expect(exceedsJsonDepth('{"a":[[1]]}', 3)).toBe(false);
    expect(exceedsJsonDepth('{"a":[[[1]]]}', 3)).toBe(true);
    expect(exceedsJsonDepth('{"a":"[[[[{{{{\\"[[[["}', 1)).toBe(false);
    expect(exceedsJsonDepth('[]'.repeat(1000), 1)).toBe(false);
  });

  it('refuses a body nested two million levels deep without parsing it', () => {
    const deep = '['.repeat(2_000_000) + ']'.repeat(2_000_000);
    expect(exceedsJsonDepth(deep, 128)).toBe(true);
  });
});
