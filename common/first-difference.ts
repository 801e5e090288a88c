/**
 * Index of the first element where `a` and `b` differ, -1 when they are equal, or the shorter
 * length when one is a prefix of the other. Two byte arrays are compared natively first, so tests
 * can compare megabytes of KV exactly and fast (a deep-equality matcher walks typed arrays element
 * by element) and still say where they differ; token-id lists (the template self-check) are walked.
 */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (
    a instanceof Uint8Array &&
    b instanceof Uint8Array &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  )
    return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
