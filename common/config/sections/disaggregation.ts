import { z } from 'zod';

/** When to split prefill from decode (see orchestrator/disagg). */
export const disaggregationSection = z.strictObject({
  mode: z.enum(['auto', 'always', 'never']).default('auto'),
  /** In `auto`, disaggregate when the uncached prompt tokens on the best decode worker exceed this. */
  threshold_tokens: z.number().int().nonnegative().default(1024),
});
