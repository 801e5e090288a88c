/**
 * The deepest nesting of `[` and `{` in a JSON text, found by one pass over its characters
 * (strings and their escapes skipped), stopping as soon as `limit` is passed. Run before
 * JSON.parse, so a body nested millions of levels deep (a 4 MB body held the event loop ~0.5 s
 * on its way to a 400) is refused for the price of a scan. Malformed text is left to
 * JSON.parse to report; this only answers "deeper than limit?".
 */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
