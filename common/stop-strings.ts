/**
 * OpenAI `stop` strings, matched on the text side as the text streams. The stream ends at the
 * first point where any stop string is complete. Text that might be the
 * start of a stop string is held back (at most the longest stop string's length - 1 characters,
 * as vLLM does) until the next piece settles it; a match ends the stream with the text before
 * it (and the stop string itself when `includeStop`, vLLM's include_stop_str_in_output).
 */

export interface StopMatch {
  /** Text that is safe to emit now. */
  readonly text: string;
  /** The stop string that matched, when one did; nothing may be pushed after a match. */
  readonly stop?: string;
}

export interface StopMatcher {
  push(text: string): StopMatch;
  /** Releases the held-back text at the end of the stream. */
  flush(): string;
}

export function createStopMatcher(stops: readonly string[], includeStop: boolean): StopMatcher {
  const candidates = stops.filter((s) => s.length > 0);
  if (candidates.length === 0) return { push: (text) => ({ text }), flush: () => '' };
  const holdBack = Math.max(...candidates.map((s) => s.length)) - 1;
  let held = '';
  let finished = false;

  return {
    push(text) {
      if (finished) throw new Error('push after a stop string matched');
      const buffer = held + text;
      // The match that completes first wins (what a token-by-token check sees, however the text
      // is split); among matches completing together, the longest.
      let at = -1;
      let matched = '';
      for (const stop of candidates) {
        const index = buffer.indexOf(stop);
        if (index < 0) continue;
        const end = index + stop.length;
        const bestEnd = at + matched.length;
        if (at < 0 || end < bestEnd || (end === bestEnd && index < at)) {
          at = index;
          matched = stop;
        }
      }
      if (at >= 0) {
        finished = true;
        held = '';
        return { text: buffer.slice(0, includeStop ? at + matched.length : at), stop: matched };
      }
      let cut = Math.max(0, buffer.length - holdBack);
      // Never split a surrogate pair between what is emitted and what is held.
      if (cut > 0 && cut < buffer.length && isLowSurrogate(buffer.charCodeAt(cut))) cut--;
      held = buffer.slice(cut);
      return { text: buffer.slice(0, cut) };
    },
    flush() {
      const out = held;
      held = '';
      return out;
    },
  };
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
