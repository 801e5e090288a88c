import { z } from 'zod';

/**
 * When to split prefill from decode, and how to pick the decode worker (orchestrator/disagg).
 * The decision reads the routing section too: its `kv` weights and decode horizon price the
 * decode workers' load, so one knob tunes aggregated and disaggregated routing alike.
 */
export const disaggregationSection = z.strictObject({
  /** `auto`: by the threshold and the placement cost below; `always`: whenever a prefill worker is eligible; `never`. */
  mode: z.enum(['auto', 'always', 'never']).default('auto'),
  /**
   * In `auto`, disaggregate when the uncached prompt tokens on the best decode-capable worker
   * (the one aggregated routing would pick) exceed this. The planner retunes it at run time.
   */
  threshold_tokens: z.number().int().nonnegative().default(1024),
  /**
   * In `auto`, above the threshold: TTFT-seconds that one second of stall on one decoding
   * sequence counts for when a local prefill is weighed against a remote one. Local costs its
   * wait + prefill + stall_weight x stall x sequences decoding there; remote costs the prefill
   * worker's wait + prefill + the KV transfer; the cheaper wins, unless only one side's expected
   * TTFT meets planner.slo.ttft_s (then that side; orchestrator/disagg/README.md). 1 prices the
   * batch's delay as the planner's threshold does; 0 compares TTFT alone.
   */
  stall_weight: z.number().nonnegative().default(1),
  /** The link decode workers pull KV over (common/profiles/links.ts): prices each candidate's transfer. */
  kv_link: z.string().min(1).default('ib-400g'),
  /**
   * Weight of a decode candidate's transfer seconds against its decode-load seconds (routing.kv
   * decode_weight x decode horizon) and queued prefill seconds (routing.kv prefill_weight).
   */
  transfer_weight: z.number().nonnegative().default(1),
  /**
   * With `orchestrator.planner_url` set: apply the planner's `disaggregation_threshold_tokens` as
   * the live `auto` threshold (false: the decision is only shown on /ui, as for a dry-run
   * planner). Without a planner the threshold stays `threshold_tokens`.
   */
  follow_planner: z.boolean().default(true),
  /**
   * A decode worker that fails before its first token: try this many other decode workers with
   * the same handoff (the prefill side still holds the blocks) before giving up.
   */
  decode_retries: z.number().int().nonnegative().default(1),
});

export type DisaggregationConfig = z.output<typeof disaggregationSection>;
