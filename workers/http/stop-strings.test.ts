import { describe, expect, it } from 'vitest';
import { createStopMatcher } from './stop-strings.ts';

/** Feeds `pieces` and returns everything released and the stop string, if one matched. */
function run(stops: string[], pieces: string[], include = false): { text: string; stop: string | undefined } {
  const matcher = createStopMatcher(stops, include);
  let text = '';
  for (const piece of pieces) {
    const out = matcher.push(piece);
    text += out.text;
    if (out.stop !== undefined) return { text, stop: out.stop };
  }
  return { text: text + matcher.flush(), stop: undefined };
}

describe('stop strings over streamed text', () => {
  it('passes everything through when there are no stop strings', () => {
    expect(run([], ['ab', 'cd'])).toEqual({ text: 'abcd', stop: undefined });
  });

  it('ends at a stop string split across pieces, without releasing any of it', () => {
    expect(run(['STOP'], ['hello S', 'T', 'OP and more'])).toEqual({ text: 'hello ', stop: 'STOP' });
  });

  it('includes the stop string when asked', () => {
    expect(run(['STOP'], ['hello ST', 'OP!'], true)).toEqual({ text: 'hello STOP', stop: 'STOP' });
  });

  it('prefers the earliest match, then the longest at one position', () => {
    expect(run(['cd', 'b'], ['abcd'])).toEqual({ text: 'a', stop: 'b' });
    expect(run(['ab', 'abc'], ['xabc'])).toEqual({ text: 'x', stop: 'abc' });
  });

  it('holds back only what could still start a stop string', () => {
    const matcher = createStopMatcher(['xyz'], false);
    expect(matcher.push('abcdef').text).toBe('abcd');
    expect(matcher.push('g').text).toBe('e');
    expect(matcher.flush()).toBe('fg');
  });

  it('never splits a surrogate pair between releases', () => {
    const matcher = createStopMatcher(['zz'], false);
    const out = matcher.push('a😀');
    expect(out.text).toBe('a');
    expect(matcher.push('b').text).toBe('😀');
  });
});
