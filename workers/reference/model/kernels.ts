/**
 * The arithmetic, in one fixed order. Every quantity is computed in float64 (JavaScript
 * numbers) by one kernel with one evaluation order, whatever the batch; only KV rows and logits
 * are rounded to float32 when stored. Matrix-vector products use `dot4`'s order (four
 * interleaved partial sums, combined as (s0 + s1) + (s2 + s3)), which shortens the add chain
 * fourfold; attention's order is stated in paged-attention.ts; every other reduction runs in
 * ascending index order. No kernel depends on how many tokens are processed
 * together, which is what makes a prompt's KV and logits bit-identical whether it is computed
 * whole, in chunks, or token by token, on any process running the same code.
 */

/**
 * sum_{i < n} a[aBase + i] * b[bBase + i], as four partial sums over i mod 4 (the tail past the
 * last multiple of 4 goes to s0), combined (s0 + s1) + (s2 + s3).
 */
export function dot4(a: Float64Array, aBase: number, b: Float32Array | Float64Array, bBase: number, n: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[aBase + i]! * b[bBase + i]!;
    s1 += a[aBase + i + 1]! * b[bBase + i + 1]!;
    s2 += a[aBase + i + 2]! * b[bBase + i + 2]!;
    s3 += a[aBase + i + 3]! * b[bBase + i + 3]!;
  }
  for (; i < n; i++) s0 += a[aBase + i]! * b[bBase + i]!;
  return s0 + s1 + (s2 + s3);
}

/** out[r] = dot4(x, w row r), for r < rows; w is row-major [rows][cols]. */
export function matVec(w: Float32Array, x: Float64Array, out: Float64Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) out[r] = dot4(x, 0, w, r * cols, cols);
}

/** out = x / sqrt(mean(x^2) + eps) * gain (RMSNorm). */
export function rmsNorm(x: Float64Array, gain: Float32Array, eps: number, out: Float64Array): void {
  const n = gain.length;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(squares / n + eps);
  for (let i = 0; i < n; i++) out[i] = x[i]! * scale * gain[i]!;
}

/** RoPE inverse frequencies theta^(-2i/headDim), i < headDim/2. */
export function ropeInverseFrequencies(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = 1 / theta ** ((2 * i) / headDim);
  return out;
}

/** cos and sin of position * invFreq[i], into cos[i] and sin[i]. */
export function ropeAngles(position: number, invFreq: Float64Array, cos: Float64Array, sin: Float64Array): void {
  for (let i = 0; i < invFreq.length; i++) {
    const angle = position * invFreq[i]!;
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
}

/**
 * Rotates each head of `x` (numHeads rows of headDim) in place, Llama/Qwen "rotate half"
 * convention: pairs (i, i + headDim/2).
 */
export function applyRope(
  x: Float64Array,
  numHeads: number,
  headDim: number,
  cos: Float64Array,
  sin: Float64Array,
): void {
  const half = headDim / 2;
  for (let h = 0; h < numHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      const a = x[base + i]!;
      const b = x[base + i + half]!;
      x[base + i] = a * cos[i]! - b * sin[i]!;
      x[base + i + half] = b * cos[i]! + a * sin[i]!;
    }
  }
}

/** gate[i] = silu(gate[i]) * up[i] (the gated MLP's activation), in place. */
export function swiGlu(gate: Float64Array, up: Float64Array, size: number): void {
  for (let i = 0; i < size; i++) {
    const g = gate[i]!;
    gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

/** x[i] += y[i]. */
export function addInPlace(x: Float64Array, y: Float64Array, size: number): void {
  for (let i = 0; i < size; i++) x[i] = x[i]! + y[i]!;
}

// 2^-j for j in [0, 1075): every power a float64 can hold, subnormals included; exact.
const NEGATIVE_POWERS_OF_TWO = Float64Array.from({ length: 1075 }, (_, j) => 2 ** -j);

/**
 * e^x for x <= 0, in plain float64 arithmetic (relative error < 1e-8), so it does not depend on
 * the platform's libm and costs about half of Math.exp. Softmax calls it once per (head,
 * position) pair, the hottest exp in the model. Returns 0 below -708 (e^-708 < 2^-1021).
 */
export function expNonPositive(x: number): number {
  if (x < -708) return 0;
  // x = k ln2 + r with |r| <= ln2 / 2; ln2 split in two for an exact k * ln2_hi.
  const k = Math.floor(x * Math.LOG2E + 0.5);
  const r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10;
  const p = 1 + r * (1 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (1 / 5040)))))));
  return p * NEGATIVE_POWERS_OF_TWO[-k]!;
}
