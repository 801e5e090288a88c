/**
 * Stop strings over streamed text (vLLM's `stop`). Text is released as it arrives except for the
 * last (longest stop - 1) characters, which could still begin a stop string; on a match the text
 * before it (plus the stop string itself with include_stop_str_in_output) is released and the
 * request ends. The concatenation of everything released equals the text up to the match.
 */
export interface StopMatcher {
  /** Adds generated text; returns what may be shown now and the stop string when one matched. */
  push(text: string): { readonly text: string; readonly stop?: string };
  /** The held-back tail, at the end of a request that no stop string ended. */
  flush(): string;
}

export function createStopMatcher(stops: readonly string[], includeStop: boolean): StopMatcher {
  const holdBack = stops.reduce((longest, stop) => Math.max(longest, stop.length), 0) - 1;
  let pending = '';
  return {
    push(text) {
      if (stops.length === 0) return { text };
      pending += text;
      let at = -1;
      let matched = '';
      for (const stop of stops) {
        const index = pending.indexOf(stop);
        // The earliest match wins; at one position, the longest.
        if (index >= 0 && (at < 0 || index < at || (index === at && stop.length > matched.length))) {
          at = index;
          matched = stop;
        }
      }
      if (at >= 0) {
        const out = pending.slice(0, at + (includeStop ? matched.length : 0));
        pending = '';
        return { text: out, stop: matched };
      }
      let safe = pending.length - holdBack;
      if (safe <= 0) return { text: '' };
      // Never split a surrogate pair between two releases.
      const code = pending.charCodeAt(safe - 1);
      if (code >= 0xd800 && code <= 0xdbff) safe--;
      const out = pending.slice(0, safe);
      pending = pending.slice(safe);
      return { text: out };
    },
    flush() {
      const out = pending;
      pending = '';
      return out;
    },
  };
}
