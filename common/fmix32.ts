/**
 * MurmurHash3's 32-bit finaliser (Austin Appleby's public-domain `fmix32`): a bijective mix in
 * which every input bit flips each output bit with probability about 1/2. Takes any integer
 * (its low 32 bits) and returns a signed int32, so callers doing int32 arithmetic stay unboxed in
 * V8; `fmix32(x) >>> 0` is the unsigned word. Used by the router's block hash
 * (orchestrator/hashing/murmur3.ts) and the simulated engine's token draws
 * (workers/engine/token-sampler.ts).
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
