import { z } from 'zod';

/** The planner (`tandem planner`): sizes the prefill and decode pools. */
export const plannerSection = z.strictObject({
  /** Seconds between decisions. */
  interval_s: z.number().positive().default(30),
  slo: z
    .strictObject({
      ttft_s: z.number().positive().default(1),
      itl_s: z.number().positive().default(0.05),
    })
    .prefault({}),
  /** Log decisions without acting on Kubernetes. */
  dry_run: z.boolean().default(false),
});
