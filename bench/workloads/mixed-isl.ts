import { z } from 'zod';
import { poissonArrivals } from './arrivals.ts';
import { count, defineWorkload, rangeProblem, rate } from './define.ts';
import { createFreshPrompts } from './fresh-prompts.ts';
import { createIndependentSource } from './independent-source.ts';
import { intBetween } from './tokens.ts';

/**
 * A blend of short and very long prompts with nothing shared beyond an optional system prompt:
 * where conditional disaggregation matters (long prompts pay for the KV transfer, short ones do
 * not). Each request is long with probability `long_share`. Poisson arrivals.
 */
export const mixedIslWorkload = defineWorkload({
  description: 'a blend of short and very long prompts (where conditional disaggregation matters)',
  params: {
    rate: rate(5),
    long_share: z.number().min(0).max(1).default(0.2).describe('probability that a request is long'),
    short_tokens_min: count(64, 'prompt tokens of a short request, uniform in [min, max]'),
    short_tokens_max: count(1024, 'see short_tokens_min'),
    long_tokens_min: count(8192, 'prompt tokens of a long request, uniform in [min, max]'),
    long_tokens_max: count(24576, 'see long_tokens_min'),
    output_tokens_min: count(64, 'max_tokens of every request, uniform in [min, max]'),
    output_tokens_max: count(512, 'see output_tokens_min'),
    system_prompt_tokens: count(
      0,
      'a system prompt every request starts with (counted in the prompt lengths above)',
      0,
    ),
  },
  check: (p) =>
    rangeProblem(p, 'short_tokens', 'long_tokens', 'output_tokens') ??
    (p.system_prompt_tokens >= Math.min(p.short_tokens_min, p.long_tokens_min)
      ? `parameter system_prompt_tokens (${p.system_prompt_tokens}) must be below short_tokens_min and long_tokens_min`
      : undefined),
  open(params, _prepared, rng) {
    const arrivals = poissonArrivals(rng.fork('arrivals'), params.rate);
    const shape = rng.fork('shape');
    const prompts = createFreshPrompts(rng.fork('content'), params.system_prompt_tokens);
    let sent = 0;
    return createIndependentSource(() => {
      const long = shape.next() < params.long_share;
      const total = long
        ? intBetween(shape, params.long_tokens_min, params.long_tokens_max)
        : intBetween(shape, params.short_tokens_min, params.short_tokens_max);
      const { prompt, sharedPrefixTokens } = prompts.build(total - params.system_prompt_tokens);
      const id = `${long ? 'long' : 'short'}${sent++}`;
      return {
        id,
        arrivalMs: arrivals.next(),
        promptTokenIds: prompt,
        maxOutputTokens: intBetween(shape, params.output_tokens_min, params.output_tokens_max),
        sessionKey: id,
        sharedPrefixTokens,
      };
    });
  },
});
