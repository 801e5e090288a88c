/**
 * The deepest nesting of `[` and `{` in a JSON text, found by one pass over its characters
 * (strings and their escapes skipped), stopping as soon as `limit` is passed. Run before
 * JSON.parse, so a body nested millions of levels deep (a 4 MB body held the event loop ~0.5 s
 * on its way to a 400) is refused for the price of a scan. Malformed text is left to
 * JSON.parse to report; this only answers "deeper than limit?".
 */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(text, i + 1);
      if (i < 0) return false; // unterminated: JSON.parse reports it
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * The index of the quote closing the string whose contents start at `from`, or -1. Jumps from
 * quote to quote with indexOf (a prompt of megabytes is one string: a native search, not a
 * character loop; 7 MB took ~100 ms the slow way); a quote after an odd run of backslashes is escaped.
 */
export function stringEnd(text: string, from: number): number {
  for (let at = text.indexOf('"', from); at >= 0; at = text.indexOf('"', at + 1)) {
    let slashes = 0;
    while (at - 1 - slashes >= from && text.charCodeAt(at - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return at;
  }
  return -1;
}
