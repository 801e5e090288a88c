import type { Config } from '../../common/config/index.ts';
import { linkProfile } from '../../common/profiles/index.ts';
import type { DisaggOptions } from './types.ts';

/**
 * The decision's options from the validated config: the `disaggregation` section, plus the
 * routing section's `kv` weights and decode horizon so decode workers are priced as the `kv`
 * policy prices them, and the TTFT target of `planner.slo` (the deployment's SLO, which the
 * admission queue reads too). Throws TandemError on an unknown link name (listing the known ones).
 */
export function disaggOptionsFromConfig(
  config: Pick<Readonly<Config>, 'disaggregation' | 'routing' | 'planner'>,
): DisaggOptions {
  const d = config.disaggregation;
  const kv = config.routing.kv;
  return {
    mode: d.mode,
    thresholdTokens: d.threshold_tokens,
    stallWeight: d.stall_weight,
    ttftTargetSeconds: config.planner.slo.ttft_s,
    link: linkProfile(d.kv_link),
    decodeWeight: kv.decode_weight,
    transferWeight: d.transfer_weight,
    queueWeight: kv.prefill_weight,
    decodeHorizonTokens: kv.decode_horizon_tokens,
    tieToleranceSeconds: kv.tie_tolerance_s,
  };
}
