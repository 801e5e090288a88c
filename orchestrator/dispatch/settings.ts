import { queueTimeoutSeconds, type Config } from '../../common/config/index.ts';
import { disaggOptionsFromConfig } from '../disagg/index.ts';
import type { DispatcherOptions } from './dispatcher.ts';

/**
 * The dispatcher's settings from the whole config: per-worker saturation limits, the admission
 * queue's bounds, the disaggregation decision. One place, so the live orchestrator and the
 * cluster simulator run the dispatcher with the same settings.
 */
export function dispatcherSettingsFromConfig(
  config: Readonly<Config>,
): Pick<DispatcherOptions, 'limits' | 'queue' | 'disaggregation'> {
  const o = config.orchestrator;
  return {
    limits: {
      maxInflightPerWorker: o.dispatch.max_inflight_per_worker,
      maxQueuedPrefillTokensPerWorker: o.dispatch.max_queued_prefill_tokens_per_worker,
      maxKvUsage: o.dispatch.max_kv_usage,
      retryBeforeFirstToken: o.dispatch.retry_before_first_token,
    },
    queue: {
      maxQueued: o.admission.max_queued,
      timeoutMs: queueTimeoutSeconds(config) * 1000,
      waitFactor: o.admission.queue_wait_ttft_factor,
      retryAfterS: o.admission.retry_after_s,
    },
    disaggregation: {
      options: disaggOptionsFromConfig(config),
      hashSeed: config.routing.hash_seed,
      decodeRetries: config.disaggregation.decode_retries,
    },
  };
}
