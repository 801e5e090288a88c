import { describe, expect, it } from 'vitest';
import { createRng } from './rng.ts';
import { createStopMatcher } from './stop-strings.ts';

/** Feeds `pieces` until a stop matches; returns the emitted text and the matched stop. */
function run(stops: string[], pieces: string[], includeStop = false): { text: string; stop: string | undefined } {
  const matcher = createStopMatcher(stops, includeStop);
  let text = '';
  for (const piece of pieces) {
    const result = matcher.push(piece);
    text += result.text;
    if (result.stop !== undefined) return { text, stop: result.stop };
  }
  return { text: text + matcher.flush(), stop: undefined };
}

describe('stop strings', () => {
  it('cuts the text before a stop string that arrives split across pieces', () => {
    expect(run(['END'], ['Hello E', 'N', 'D and more'])).toEqual({ text: 'Hello ', stop: 'END' });
  });

  it('keeps the stop string itself with include_stop_str_in_output', () => {
    expect(run(['END'], ['Hello E', 'ND more'], true)).toEqual({ text: 'Hello END', stop: 'END' });
  });

  it('releases held-back text that turned out not to be a stop string', () => {
    expect(run(['STOP'], ['abc ST', 'OPPED?'.slice(0, 1), 'x'])).toEqual({ text: 'abc STOx', stop: undefined });
    expect(run(['STOP'], ['abc ST'])).toEqual({ text: 'abc ST', stop: undefined });
  });

  it('stops at the stop string that completes first, the longest of those completing together', () => {
    expect(run(['world', 'lo'], ['hello world'])).toEqual({ text: 'hel', stop: 'lo' });
    expect(run([' b ', 'b'], ['a b c'])).toEqual({ text: 'a ', stop: 'b' });
    expect(run(['b', 'ab'], ['xab'])).toEqual({ text: 'x', stop: 'ab' });
  });

  it('never holds back more than the longest stop string minus one character', () => {
    const matcher = createStopMatcher(['abcd'], false);
    expect(matcher.push('0123456789').text).toBe('0123456');
    expect(matcher.push('x').text).toBe('7'); // '89x' stays held: 3 = 'abcd'.length - 1
  });

  it('passes text straight through with no stop strings', () => {
    const matcher = createStopMatcher([], false);
    expect(matcher.push('abc')).toEqual({ text: 'abc' });
  });

  it('never splits a surrogate pair when holding back', () => {
    const matcher = createStopMatcher(['xy'], false);
    const out = matcher.push('a🌍');
    expect(out.text).toBe('a');
    expect(matcher.flush()).toBe('🌍');
  });

  it('matches exactly where a whole-text search does, however the text is split (seeded)', () => {
    const rng = createRng('stop-strings');
    const alphabet = 'ab c\n';
    for (let trial = 0; trial < 500; trial++) {
      const text = Array.from({ length: 40 }, () => alphabet[rng.int(alphabet.length)]).join('');
      const stops = Array.from({ length: 1 + rng.int(3) }, () =>
        Array.from({ length: 1 + rng.int(4) }, () => alphabet[rng.int(alphabet.length)]).join(''),
      );
      const pieces: string[] = [];
      for (let i = 0; i < text.length; ) {
        const n = 1 + rng.int(6);
        pieces.push(text.slice(i, i + n));
        i += n;
      }
      // Reference: the occurrence that ends first, the longest among those ending together.
      let first = -1;
      let firstEnd = Infinity;
      for (const stop of stops) {
        const index = text.indexOf(stop);
        if (index >= 0 && (index + stop.length < firstEnd || (index + stop.length === firstEnd && index < first))) {
          first = index;
          firstEnd = index + stop.length;
        }
      }
      const got = run(stops, pieces);
      expect(got.text, JSON.stringify({ text, stops })).toBe(first < 0 ? text : text.slice(0, first));
      expect(got.stop === undefined).toBe(first < 0);
    }
  });
});
