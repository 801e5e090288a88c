import { forwardSeconds, linkProfile, transferSeconds } from '../../common/profiles/index.ts';
import { TandemError } from '../../common/errors.ts';
import type { CoreParts, KvTransfer, StepExecutor } from './core-parts.ts';
import type { ResolvedEngineOptions } from './options.ts';
import { penaltiesOn, penaltyHistoryOf } from './logits-sampler.ts';
import { createTokenSampler } from './token-sampler.ts';

/**
 * The simulated engine's parts: a pass costs what the roofline says for its batch shape (run
 * `timeScale` times faster on the clock), tokens come from the seeded sampler (its plain stream,
 * or its synthetic distribution for requests that shape one: token-sampler.ts), and a KV pull
 * moves no bytes but takes the link model's time for the blocks this engine lacks.
 */
export function createSimParts(options: ResolvedEngineOptions): CoreParts {
  return { executor: createRooflineExecutor(options), transfer: createLinkModelTransfer(options) };
}

export function createRooflineExecutor(options: ResolvedEngineOptions): StepExecutor {
  const { profile, roofline, timeScale, specialTokens } = options;
  const sampler = createTokenSampler({
    firstSpecialTokenId: specialTokens.firstSpecialTokenId,
    eosTokenId: specialTokens.eosTokenIds[0]!,
    eosProbability: options.eosProbability,
  });
  return {
    forward(pass) {
      const modelSeconds = forwardSeconds(profile, pass, roofline);
      return { modelSeconds, durationMs: (modelSeconds * 1000) / timeScale };
    },
    sample(seq) {
      const s = seq.sampling;
      if (!s.shaped) return sampler.sample(s.seedWord, seq.numOutput, s.minTokens, s.ignoreEos);
      const history = penaltiesOn(s.shaping) ? penaltyHistoryOf(seq.tokens, seq.promptLength) : null;
      const sampled = sampler.sampleShaped(
        s.seedWord,
        seq.numOutput,
        s.minTokens,
        s.ignoreEos,
        s.shaping,
        history,
        seq.tokens,
      );
      seq.sampledLogprob = sampled.logprob;
      return sampled.tokenId;
    },
  };
}

export function createLinkModelTransfer(options: ResolvedEngineOptions): KvTransfer {
  const { timeScale } = options;
  return {
    plan(request, promptLength) {
      const link = request.link === undefined ? options.kvLink : linkProfile(request.link);
      const handoff = request.handoff;
      if (!Number.isInteger(handoff.numTokens) || handoff.numTokens < 0)
        throw new TandemError(
          'invalid_request',
          `handoff.numTokens must be a non-negative integer, got ${handoff.numTokens}`,
          { param: 'handoff' },
        );
      return {
        coverageTokens: Math.min(handoff.numTokens, promptLength),
        blockBytes: options.blockBytes,
        start: (_localBlockIds, _firstBlock, bytes, nowMs) => nowMs + (transferSeconds(link, bytes) * 1000) / timeScale,
      };
    },
    describe: (handoff) => handoff,
  };
}
