import { z } from 'zod';
import { varyingPoissonArrivals } from './arrivals.ts';
import { count, defineWorkload, rangeProblem, rate } from './define.ts';
import { createFreshPrompts } from './fresh-prompts.ts';
import { createIndependentSource } from './independent-source.ts';
import { intBetween } from './tokens.ts';

/**
 * A day compressed into `period_s`: the rate follows a sinusoid around `rate` (trough at the
 * start, peak half a period in), and the mix shifts with it. At the peak most requests are chat
 * (short prompts, long answers: decode-heavy); in the trough more are document jobs (long
 * prompts, short answers: prefill-heavy), so the best P:D split moves through the run:
 *
 *   rate(t)       = rate x (1 - amplitude x cos(2 pi t / period))
 *   long_share(t) = long_share_trough + (long_share_peak - long_share_trough) x (1 - cos(2 pi t / period)) / 2
 */
export const diurnalWorkload = defineWorkload({
  description: 'rate and ISL/OSL mix shifting over the run (for the planner)',
  params: {
    rate: rate(10),
    period_s: z.number().positive().default(600).describe('length of one simulated day, seconds'),
    amplitude: z.number().min(0).max(1).default(0.6).describe('relative swing of the rate around its mean'),
    long_share_trough: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('share of long-prompt requests at the lowest rate'),
    long_share_peak: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe('share of long-prompt requests at the highest rate'),
    chat_prompt_tokens_min: count(256, 'prompt tokens of a chat request, uniform in [min, max]'),
    chat_prompt_tokens_max: count(2048, 'see chat_prompt_tokens_min'),
    chat_output_tokens_min: count(128, 'max_tokens of a chat request, uniform in [min, max]'),
    chat_output_tokens_max: count(768, 'see chat_output_tokens_min'),
    long_prompt_tokens_min: count(6000, 'prompt tokens of a long request, uniform in [min, max]'),
    long_prompt_tokens_max: count(16000, 'see long_prompt_tokens_min'),
    long_output_tokens_min: count(32, 'max_tokens of a long request, uniform in [min, max]'),
    long_output_tokens_max: count(256, 'see long_output_tokens_min'),
    system_prompt_tokens: count(
      0,
      'a system prompt every request starts with (counted in the prompt lengths above)',
      0,
    ),
  },
  check: (p) =>
    rangeProblem(p, 'chat_prompt_tokens', 'chat_output_tokens', 'long_prompt_tokens', 'long_output_tokens') ??
    (p.system_prompt_tokens >= Math.min(p.chat_prompt_tokens_min, p.long_prompt_tokens_min)
      ? `parameter system_prompt_tokens (${p.system_prompt_tokens}) must be below chat_prompt_tokens_min and long_prompt_tokens_min`
      : undefined),
  open(params, _prepared, rng) {
    const periodMs = params.period_s * 1000;
    const phase = (atMs: number) => (1 - Math.cos((2 * Math.PI * atMs) / periodMs)) / 2; // 0 at trough, 1 at peak
    const rateAt = (atMs: number) => params.rate * (1 - params.amplitude * Math.cos((2 * Math.PI * atMs) / periodMs));
    const arrivals = varyingPoissonArrivals(rng.fork('arrivals'), rateAt, params.rate * (1 + params.amplitude));
    const shape = rng.fork('shape');
    const prompts = createFreshPrompts(rng.fork('content'), params.system_prompt_tokens);
    let sent = 0;
    return createIndependentSource(() => {
      const arrivalMs = arrivals.next();
      const longShare =
        params.long_share_trough + (params.long_share_peak - params.long_share_trough) * phase(arrivalMs);
      const long = shape.next() < longShare;
      const total = long
        ? intBetween(shape, params.long_prompt_tokens_min, params.long_prompt_tokens_max)
        : intBetween(shape, params.chat_prompt_tokens_min, params.chat_prompt_tokens_max);
      const output = long
        ? intBetween(shape, params.long_output_tokens_min, params.long_output_tokens_max)
        : intBetween(shape, params.chat_output_tokens_min, params.chat_output_tokens_max);
      const { prompt, sharedPrefixTokens } = prompts.build(total - params.system_prompt_tokens);
      const id = `${long ? 'long' : 'chat'}${sent++}`;
      return { id, arrivalMs, promptTokenIds: prompt, maxOutputTokens: output, sessionKey: id, sharedPrefixTokens };
    });
  },
});
