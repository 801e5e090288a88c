/**
 * A seeded random source (sfc32: small, fast, passes PractRand to 2^40+). Everything that
 * samples takes an Rng, so a seed fixes a whole run. Not for cryptography.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** Uniform in [min, max). */
  uniform(min: number, max: number): number;
  /** Exponential with the given rate (events per unit); mean 1/rate. Poisson inter-arrivals. */
  exponential(rate: number): number;
  /** Normal(mean, sd) by Box-Muller. */
  normal(mean: number, sd: number): number;
  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** Puts `items` in a uniformly random order, in place (Fisher-Yates from the end), and returns it. */
  shuffle<T>(items: T[]): T[];
  /** A new independent stream derived from this seed and `label`; does not advance this one. */
  fork(label: string): Rng;
  /** The seed this stream was created from, for reports. */
  readonly seed: string;
}

export function createRng(seed: number | string): Rng {
  const seedText = String(seed);
  const [a0, b0, c0, d0] = seedWords(seedText);
  let a = a0,
    b = b0,
    c = c0,
    d = d0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const out = (t + d) | 0;
    c = (c + out) | 0;
    return (out >>> 0) / 4294967296;
  };
  // Discard the first outputs: sfc32 mixes weak seeds within a dozen steps.
  for (let i = 0; i < 15; i++) next();
  const rng: Rng = {
    seed: seedText,
    next,
    int: (maxExclusive) => Math.floor(next() * maxExclusive),
    uniform: (min, max) => min + next() * (max - min),
    exponential: (rate) => -Math.log(1 - next()) / rate,
    normal(mean, sd) {
      const u = 1 - next();
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    pick(items) {
      if (items.length === 0) throw new Error('pick from an empty array');
      return items[Math.floor(next() * items.length)]!;
    },
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
    fork: (label) => createRng(`${seedText}/${label}`),
  };
  return rng;
}

/** Four 32-bit words from a string seed (cyrb128). */
function seedWords(text: string): [number, number, number, number] {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
