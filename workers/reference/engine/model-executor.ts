import type { Clock } from '../../../common/clock.ts';
import { TandemError } from '../../../common/errors.ts';
import type { Sequence, StepExecutor } from '../../engine/index.ts';
import { penaltiesOn, penaltyHistoryOf, sampleFromLogits } from '../../engine/logits-sampler.ts';
import { uniformAt } from '../../engine/token-sampler.ts';
import type { KvBlockPool } from '../kv/block-pool.ts';
import type { ReferenceModel } from '../model/model.ts';

/**
 * The reference engine's StepExecutor: a pass really runs the model. Each scheduled sequence
 * feeds its next tokens through `model.forward` over its own block table (the block manager's
 * block ids index the float32 pool directly), which writes their K/V into the pool; a sequence
 * whose pass reaches its last known token keeps the logits for `sample`.
 *
 * Sequences run in batch order, one after another. That order matters for the prefix cache:
 * the scheduler registers a block's hash when it plans the pass that fills it, so a request
 * admitted later in the same pass may reuse it, and it is computed by then.
 *
 * Tokens come from the real logits: greedy (argmax over the output vocabulary, ties to the
 * lowest id) at temperature 0, else sampled with the request's temperature, top-k, top-p and
 * min-p after its presence, frequency and repetition penalties (workers/engine/logits-sampler.ts),
 * the draw for output position i a pure function of (seed, i), so a request split across a
 * prefill and a decode engine samples what it would have in one. Logprobs are the raw logits'
 * log-softmax (after min_tokens' masks). Before `min_tokens` tokens, the EOS id and the request's stop ids are masked out,
 * as vLLM's min-tokens logits processor does.
 *
 * The pass's time is real and already spent when `forward` returns: durationMs is 0 and
 * modelSeconds is the clock time it took.
 */
export function createModelExecutor(model: ReferenceModel, pool: KvBlockPool, clock: Clock): StepExecutor {
  const pendingLogits = new Map<Sequence, Float32Array>();
  const { outputIds, eosId } = model;

  const choose = (logits: Float32Array, seq: Sequence): number => {
    const s = seq.sampling;
    if (s.shaped || s.shaping.temperature > 0) {
      let scores: Float32Array = logits;
      if (seq.numOutput < s.minTokens) {
        scores = logits.slice();
        for (let i = 0; i < scores.length; i++)
          if (outputIds[i] === eosId || s.stopTokenIds?.has(outputIds[i]!)) scores[i] = -Infinity;
      }
      const history = penaltiesOn(s.shaping) ? penaltyHistoryOf(seq.tokens, seq.promptLength) : null;
      const sampled = sampleFromLogits(outputIds, scores, s.shaping, history, uniformAt(s.seedWord, seq.numOutput));
      seq.sampledLogprob = sampled.logprob;
      return sampled.tokenId;
    }
    if (seq.numOutput >= s.minTokens) return model.greedy(logits);
    let best = -1;
    for (let i = 0; i < logits.length; i++) {
      const id = outputIds[i]!;
      if (id === eosId || s.stopTokenIds?.has(id)) continue;
      if (best < 0 || logits[i]! > logits[best]!) best = i;
    }
    if (best < 0) throw new TandemError('internal', `request "${seq.id}" masks every output id before min_tokens`);
    return outputIds[best]!;
  };

  return {
    forward(pass) {
      const startMs = clock.now();
      for (let i = 0; i < pass.sequences.length; i++) {
        const seq = pass.sequences[i]!;
        const from = seq.numComputed;
        const to = from + pass.tokens[i]!;
        if (to === from) continue;
        const logits = model.forward(pool, seq.blockIds, from, seq.tokens.slice(from, to));
        if (to === seq.tokens.length) pendingLogits.set(seq, logits);
      }
      return { modelSeconds: (clock.now() - startMs) / 1000, durationMs: 0 };
    },
    sample(seq) {
      const logits = pendingLogits.get(seq);
      if (!logits)
        throw new TandemError(
          'internal',
          `no logits for request "${seq.id}": sample without a pass reaching its last token`,
        );
      pendingLogits.delete(seq);
      return choose(logits, seq);
    },
  };
}
