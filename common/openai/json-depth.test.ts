import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth } from './json-depth.ts';

describe('JSON depth scan', () => {
  it('counts only brackets outside strings, escapes included', () => {
    expect(exceedsJsonDepth('{"a":[[1]]}', 3)).toBe(false);
    expect(exceedsJsonDepth('{"a":[[[1]]]}', 3)).toBe(true);
    expect(exceedsJsonDepth('{"a":"[[[[{{{{\\"[[[["}', 1)).toBe(false);
    expect(exceedsJsonDepth('[]'.repeat(1000), 1)).toBe(false);
    // An escaped backslash ends before the quote: the brackets after it count.
    expect(exceedsJsonDepth('{"a":"x\\\\","b":[[1]]}', 2)).toBe(true);
    expect(exceedsJsonDepth('{"a":"x\\\\\\"[[","b":[1]}', 2)).toBe(false);
  });

  it('skips a string of megabytes without a character loop', () => {
    const body = JSON.stringify({ prompt: 'lorem "ipsum" \\ [dolor] '.repeat(300_000), user: [[[1]]] });
    expect(exceedsJsonDepth(body, 4)).toBe(false); // the object, then three arrays
    expect(exceedsJsonDepth(body, 3)).toBe(true);
  });

  it('refuses a body nested two million levels deep without parsing it', () => {
    const deep = '['.repeat(2_000_000) + ']'.repeat(2_000_000);
    expect(exceedsJsonDepth(deep, 128)).toBe(true);
  });
});
