import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import { createRng } from '../../common/rng.ts';
import { createKvIndex, type KvIndex } from '../kv-index/index.ts';
import { createLoadBook, type LoadBook } from '../load/index.ts';
import type { RoutingConfig } from './policy.ts';
import { createPolicy } from './registry.ts';
import { createRouter, type Router } from './router.ts';

export interface RoutingCore {
  readonly router: Router;
  /** Feed it KV events (precise mode) and worker lifecycle (clearWorker, removeWorker). */
  readonly index: KvIndex;
  /** Feed it first tokens, stream ends and worker reports. */
  readonly load: LoadBook;
}

export interface RoutingCoreDeps {
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Overrides config routing.seed (the simulator forks one per run). */
  readonly seed?: number | string;
  /**
   * Wraps the index and load book before the router sees them: replica sync
   * (orchestrator/replica-sync) publishes their changes and applies other processes' deltas.
   */
  readonly wrap?: (parts: { index: KvIndex; load: LoadBook }) => { index: KvIndex; load: LoadBook };
}

/** The whole routing core from the `routing` config section: index, load book, policy, router. */
export function createRoutingCore(config: RoutingConfig, deps: RoutingCoreDeps): RoutingCore {
  const policy = createPolicy(config.policy, config);
  const ownIndex = createKvIndex(config.index_mode, {
    hashSeed: config.hash_seed,
    defaultBlockSize: config.block_size,
    maxParkedRuns: config.index.max_parked_runs,
    ttlMs: config.index.approximate_ttl_s * 1000,
    maxBlocks: config.index.approximate_max_blocks,
    pruneToFraction: config.index.approximate_prune_to,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const ownLoad = createLoadBook({
    bookingTtlMs: config.load.booking_ttl_s * 1000,
    reportMaxAgeMs: config.load.report_max_age_s * 1000,
  });
  const { index, load } = deps.wrap
    ? deps.wrap({ index: ownIndex, load: ownLoad })
    : { index: ownIndex, load: ownLoad };
  const router = createRouter({
    index,
    load,
    policy,
    clock: deps.clock,
    rng: createRng(deps.seed ?? config.seed).fork('router'),
    hashSeed: config.hash_seed,
    guard: {
      enabled: config.guard.enabled,
      inflightAbs: config.guard.inflight_abs,
      inflightRel: config.guard.inflight_rel,
      queueAbsSeconds: config.guard.queue_abs_s,
      queueRel: config.guard.queue_rel,
    },
    cost: {
      prefillWeight: config.kv.prefill_weight,
      decodeWeight: config.kv.decode_weight,
      decodeHorizonTokens: config.kv.decode_horizon_tokens,
    },
  });
  return { router, index, load };
}
