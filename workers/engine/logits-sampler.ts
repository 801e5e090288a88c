import type { TokenLogprob } from './engine-api.ts';

/**
 * Sampling from a model's scores, as vLLM's sampler does it, for engines that have scores: the
 * reference engine's real logits, and the simulated engine's synthetic ones (token-sampler.ts).
 * Pure: candidates and history in, one token (and its logprobs) out; the random draw is the
 * caller's `uniform` in [0, 1), so a token stays a pure function of (seed, position, history).
 *
 * Order (vLLM v1): repetition, frequency and presence penalties on the raw logits; then greedy
 * (temperature 0: the largest logit, ties to the lowest candidate index) or temperature, top-k,
 * top-p and min-p, and a draw from what is left. Logprobs are the raw scores' log-softmax over
 * the candidates, before any of that (vLLM's default `raw_logprobs`), for the sampled token and
 * the `logprobs` best candidates.
 */
export interface LogitsSampling {
  /** 0 = greedy. */
  readonly temperature: number;
  /** 0 = every candidate. */
  readonly topK: number;
  /** In (0, 1]; 1 = off. */
  readonly topP: number;
  /** In [0, 1]; 0 = off. */
  readonly minP: number;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  /** > 0; 1 = off. */
  readonly repetitionPenalty: number;
  /** Alternatives to report per position (0-20), or null for no logprobs at all. */
  readonly logprobs: number | null;
}

/** What the penalties look at: the prompt's tokens (repetition only) and the output's counts. */
export interface PenaltyHistory {
  readonly prompt: ReadonlySet<number>;
  readonly outputCounts: ReadonlyMap<number, number>;
}

export interface Sampled {
  readonly tokenId: number;
  /** Null unless `logprobs` asked for them. */
  readonly logprob: TokenLogprob | null;
}

/** Whether any penalty is on (then the caller supplies a PenaltyHistory). */
export function penaltiesOn(s: LogitsSampling): boolean {
  return s.presencePenalty !== 0 || s.frequencyPenalty !== 0 || s.repetitionPenalty !== 1;
}

/**
 * Samples one of `ids` (distinct token ids) scored by `logits` (same length; -Infinity masks a
 * candidate out). `logits` is not modified.
 */
export function sampleFromLogits(
  ids: ArrayLike<number>,
  logits: ArrayLike<number>,
  s: LogitsSampling,
  history: PenaltyHistory | null,
  uniform: number,
): Sampled {
  const n = ids.length;
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = logits[i]!;
  if (history !== null && penaltiesOn(s)) {
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const count = history.outputCounts.get(id) ?? 0;
      let x = scores[i]!;
      if (s.repetitionPenalty !== 1 && (count > 0 || history.prompt.has(id)))
        x = x > 0 ? x / s.repetitionPenalty : x * s.repetitionPenalty;
      if (count > 0) x -= s.frequencyPenalty * count + s.presencePenalty;
      scores[i] = x;
    }
  }

  let chosen: number;
  if (s.temperature === 0) {
    chosen = 0;
    for (let i = 1; i < n; i++) if (scores[i]! > scores[chosen]!) chosen = i;
  } else {
    // Candidates by score, best first; top-k keeps a prefix of them.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    let kept = s.topK > 0 ? Math.min(s.topK, n) : n;
    const max = scores[order[0]!]! / s.temperature;
    const probs = new Float64Array(kept);
    let total = 0;
    for (let r = 0; r < kept; r++) {
      const p = Math.exp(scores[order[r]!]! / s.temperature - max);
      probs[r] = p;
      total += p;
    }
    // top-p: the shortest prefix whose mass reaches top_p (at least one candidate).
    if (s.topP < 1) {
      let mass = 0;
      for (let r = 0; r < kept; r++) {
        mass += probs[r]! / total;
        if (mass >= s.topP) {
          kept = r + 1;
          break;
        }
      }
    }
    // min-p: drop candidates below min_p times the best one's probability (the best is probs[0]).
    if (s.minP > 0) {
      let r = 1;
      while (r < kept && probs[r]! >= s.minP * probs[0]!) r++;
      kept = r;
    }
    let keptTotal = 0;
    for (let r = 0; r < kept; r++) keptTotal += probs[r]!;
    let target = uniform * keptTotal;
    let rank = 0;
    while (rank < kept - 1 && target >= probs[rank]!) {
      target -= probs[rank]!;
      rank++;
    }
    chosen = order[rank]!;
  }
  if (!(scores[chosen]! > -Infinity)) throw new Error('every candidate is masked out');
  return { tokenId: ids[chosen]!, logprob: s.logprobs === null ? null : rawLogprobs(ids, logits, chosen, s.logprobs) };
}

/** log-softmax of the raw scores: the chosen candidate's, and the `top` best (ties to the lower index). */
function rawLogprobs(ids: ArrayLike<number>, logits: ArrayLike<number>, chosen: number, top: number): TokenLogprob {
  const n = ids.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  const best: number[] = [];
  if (top > 0) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
    for (let r = 0; r < Math.min(top, n); r++) best.push(order[r]!);
  }
  return { logprob: logits[chosen]! - logZ, top: best.map((i) => ({ tokenId: ids[i]!, logprob: logits[i]! - logZ })) };
}

/**
 * The penalty history of a sequence's tokens (prompt first, then output), kept up to date
 * incrementally per `tokens` array: the prompt set is built once, output counts grow as tokens
 * are appended. `tokens` must only ever grow (an engine sequence's do).
 */
export function penaltyHistoryOf(tokens: readonly number[], promptLength: number): PenaltyHistory {
  let entry = histories.get(tokens);
  if (entry === undefined) {
    entry = { prompt: new Set(tokens.slice(0, promptLength)), outputCounts: new Map(), counted: promptLength };
    histories.set(tokens, entry);
  }
  for (; entry.counted < tokens.length; entry.counted++) {
    const id = tokens[entry.counted]!;
    entry.outputCounts.set(id, (entry.outputCounts.get(id) ?? 0) + 1);
  }
  return entry;
}

const histories = new WeakMap<
  readonly number[],
  { prompt: Set<number>; outputCounts: Map<number, number>; counted: number }
>();
