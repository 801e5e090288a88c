import type { Rng } from '../../common/rng.ts';
import { createBranchPoint, fillTokens, freshSegment } from './tokens.ts';

export interface FreshPrompt {
  readonly prompt: Uint32Array;
  /** Tokens shared with earlier prompts of this builder: the system prompt, once one was built. */
  readonly sharedPrefixTokens: number;
}

/**
 * Prompts that share nothing but an optional system prompt: `build(n)` returns the system
 * prompt followed by n new tokens whose first token no earlier prompt of this builder used.
 */
export function createFreshPrompts(rng: Rng, systemPromptTokens: number): { build(bodyTokens: number): FreshPrompt } {
  const system = freshSegment(rng.fork('system'), systemPromptTokens, createBranchPoint());
  const branch = createBranchPoint();
  let built = 0;
  return {
    build(bodyTokens) {
      const prompt = new Uint32Array(system.length + bodyTokens);
      prompt.set(system);
      if (bodyTokens > 0) {
        prompt[system.length] = branch.freshFirstToken(rng);
        fillTokens(rng, prompt, system.length + 1, bodyTokens - 1);
      }
      return { prompt, sharedPrefixTokens: built++ > 0 ? system.length : 0 };
    },
  };
}
