import { z } from 'zod';
import { exponentialDelayMs } from './arrivals.ts';
import { count, defineWorkload, rangeProblem, rate } from './define.ts';
import { createSessionSource } from './session-source.ts';
import { createBranchPoint, freshSegment, intBetween } from './tokens.ts';

/**
 * Chat conversations: every conversation opens with the application's system prompt (shared by
 * all) and a user message; each later turn re-sends the whole history (previous prompt, the
 * assistant's reply, the new user message) after the user's think time, which starts when the
 * previous turn completes. Conversations start as a Poisson process at rate / mean turns, so the
 * request rate is about `rate` once conversations overlap.
 */
export const multiTurnChatWorkload = defineWorkload({
  description: 'chat conversations whose history grows turn by turn, with think time between turns',
  params: {
    rate: rate(5),
    conversations: count(0, 'conversations to run in all; 0 = as many as the run takes', 0),
    system_prompt_tokens: count(1000, 'tokens of the system prompt every conversation starts with', 0),
    turns_min: count(2, 'turns per conversation, uniform in [turns_min, turns_max]'),
    turns_max: count(8, 'see turns_min'),
    user_tokens_min: count(50, 'tokens of each user message, uniform in [min, max]'),
    user_tokens_max: count(400, 'see user_tokens_min'),
    output_tokens_min: count(100, 'max_tokens of each turn, uniform in [min, max]'),
    output_tokens_max: count(500, 'see output_tokens_min'),
    think_time_s: z
      .number()
      .nonnegative()
      .default(5)
      .describe('mean think time between a reply and the next user turn, seconds (exponential)'),
    max_context_tokens: count(
      32768,
      "a conversation ends before a turn whose prompt + max_tokens would exceed this (Qwen3's native context)",
    ),
  },
  check: (p) => rangeProblem(p, 'turns', 'user_tokens', 'output_tokens'),
  open(params, _prepared, rng) {
    const systemPrompt = freshSegment(rng.fork('system'), params.system_prompt_tokens, createBranchPoint());
    return createSessionSource({
      rng,
      ratePerS: params.rate,
      meanSteps: (params.turns_min + params.turns_max) / 2,
      sessions: params.conversations,
      sharedPrefix: systemPrompt,
      idPrefix: 'conv',
      maxContextTokens: params.max_context_tokens,
      newSession: (r) => ({
        steps: intBetween(r, params.turns_min, params.turns_max),
        openingTokens: intBetween(r, params.user_tokens_min, params.user_tokens_max),
      }),
      maxOutputTokens: (r) => intBetween(r, params.output_tokens_min, params.output_tokens_max),
      followUp: (r) => ({
        appendTokens: intBetween(r, params.user_tokens_min, params.user_tokens_max),
        delayMs: exponentialDelayMs(r, params.think_time_s),
      }),
    });
  },
});
