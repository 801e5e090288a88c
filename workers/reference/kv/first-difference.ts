/**
 * Index of the first byte where `a` and `b` differ, -1 when they are equal, or the shorter
 * length when one is a prefix of the other. Lets tests compare KV bytes exactly and fast (a
 * deep-equality matcher walks typed arrays element by element) and still say where they differ.
 */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)))
    return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
