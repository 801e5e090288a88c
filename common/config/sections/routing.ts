import { z } from 'zod';

/** How the router picks workers and keeps its KV index (orchestrator/routing, kv-index, load). */
export const routingSection = z.strictObject({
  /** A policy name from orchestrator/routing's registry; unknown names fail at start-up. */
  policy: z.string().min(1).default('kv'),
  /** Tokens per KV block the router hashes by; must equal every worker's block size. */
  block_size: z.number().int().positive().default(16),
  /** Seed of the router's own chained block hash (independent of the engines' hashes), uint32. */
  hash_seed: z.number().int().nonnegative().max(0xffff_ffff).default(1337),
  /** `precise`: fed by workers' KV events; `approximate`: the router's own decisions with a TTL. */
  index_mode: z.enum(['precise', 'approximate']).default('precise'),
  /** Seed of the router's random choices (random, power-of-two, softmax, tie-breaks). */
  seed: z.number().int().nonnegative().default(0),

  index: z
    .strictObject({
      /** Approximate mode: seconds a routed prompt's blocks count as cached (Dynamo: 120). */
      approximate_ttl_s: z.number().positive().default(120),
      /** Approximate mode: most (worker, block) entries kept (Dynamo: 2^20). */
      approximate_max_blocks: z
        .number()
        .int()
        .positive()
        .default(1 << 20),
      /** Approximate mode: fraction of the bound kept after pruning the oldest (Dynamo: 0.8). */
      approximate_prune_to: z.number().gt(0).max(1).default(0.8),
      /** Precise mode: BlockStored runs kept per worker while their parent is unknown. */
      max_parked_runs: z.number().int().nonnegative().default(256),
    })
    .prefault({}),

  load: z
    .strictObject({
      /** Seconds after which a booking whose stream was never released is dropped (Dynamo: 300). */
      booking_ttl_s: z.number().positive().default(300),
      /** Worker status reports older than this many seconds are ignored. */
      report_max_age_s: z.number().positive().default(10),
    })
    .prefault({}),

  /**
   * The hotspot guard, applied before every policy: a worker is left out while it runs far
   * ahead of the least-loaded healthy one on in-flight requests or on queued prefill time
   * (both conditions of a pair must hold, as in SGLang's balance check).
   */
  guard: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** In-flight requests above the minimum... (SGLang: 64) */
      inflight_abs: z.number().nonnegative().default(64),
      /** ...and above this multiple of it (SGLang: 1.5). */
      inflight_rel: z.number().min(1).default(1.5),
      /** Queued prefill seconds above the minimum... */
      queue_abs_s: z.number().nonnegative().default(2),
      /** ...and above this multiple of it. */
      queue_rel: z.number().min(1).default(2),
    })
    .prefault({}),

  /** The `kv` policy: cost = prefill_weight x (queue + prefill seconds) + decode_weight x decode seconds. */
  kv: z
    .strictObject({
      prefill_weight: z.number().nonnegative().default(1),
      decode_weight: z.number().nonnegative().default(1),
      /**
       * Output tokens the decode term looks ahead (capped by the request's max_tokens): how much
       * a worker's decode batch weighs against a cached prefix. 128 kept the toy shared-prefix
       * stream of orchestrator/routing/router.test.ts at 87% hits with request counts per
       * worker within 15% (64: 91% but up to 45% apart; 256: 72%).
       */
      decode_horizon_tokens: z.number().int().positive().default(128),
      /** 0 picks the cheapest; > 0 samples softmax(-normalised cost / temperature). */
      temperature: z.number().nonnegative().default(0),
      /** Costs within this many seconds of the cheapest count as a tie (spread, not "first"). */
      tie_tolerance_s: z.number().nonnegative().default(0.0005),
    })
    .prefault({}),

  /** The `cache-aware` policy (SGLang's router CLI defaults). */
  cache_aware: z
    .strictObject({
      /** Prefix match fraction above which the best-matching worker wins. */
      cache_threshold: z.number().min(0).max(1).default(0.3),
      balance_abs_threshold: z.number().nonnegative().default(64),
      balance_rel_threshold: z.number().min(1).default(1.5),
    })
    .prefault({}),

  /** The `session` policy: consistent hashing of the session key. */
  session: z
    .strictObject({
      /** Points per worker on the hash ring. */
      virtual_nodes: z.number().int().positive().default(160),
    })
    .prefault({}),
});

export type RoutingConfig = z.output<typeof routingSection>;
