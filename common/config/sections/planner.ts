import { z } from 'zod';

const kebab = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * One worker pool the planner sizes: a role on one GPU kind running one model. Mixed fleets list
 * one pool per GPU kind and role (e.g. `prefill-h100`, `prefill-l40s`, `decode-h100`).
 */
export const plannerPoolEntry = z.strictObject({
  /** Kebab-case; the `pool` label on tandem_planner_desired_replicas and KEDA's `pool` metadata. */
  name: z.string().regex(kebab, 'must be kebab-case (a-z, 0-9, -)'),
  role: z.enum(['prefill', 'decode']),
  /** GPU and model profile names from common/profiles (unknown names fail at start-up). */
  gpu: z.string().min(1).default('h100-sxm'),
  model: z.string().min(1).default('qwen3-8b'),
  /** GPUs per replica (tensor-parallel degree). */
  tp: z.number().int().positive().default(1),
  min_replicas: z.number().int().nonnegative().default(1),
  max_replicas: z.number().int().positive().default(64),
  /** The Deployment whose scale subresource direct mode patches; default `tandem-<name>`. */
  deployment: z.string().min(1).optional(),
  /**
   * A JSON file of measured timings for this pool (see planner/size/measured-profile.ts); when
   * absent the roofline model of common/profiles prices it, as the simulated engine does.
   */
  profile_file: z.string().min(1).optional(),
  /** Workers whose name starts with this belong to the pool (per-pool observations); default: by role. */
  worker_prefix: z.string().min(1).optional(),
});

/** The planner (`tandem planner`): sizes the prefill and decode pools. */
export const plannerSection = z
  .strictObject({
    /** Seconds between decisions (and between scrapes). */
    interval_s: z.number().positive().default(30),
    slo: z
      .strictObject({
        /** Time-to-first-token target, seconds (prefill queueing + prefill + KV transfer). */
        ttft_s: z.number().positive().default(1),
        /** Inter-token latency target, seconds (one decode step). */
        itl_s: z.number().positive().default(0.05),
        /**
         * Share of requests whose TTFT the prefill pool is sized to keep within ttft_s, (0, 1):
         * an M/G/c tail over the observed prompt-length spread, not just the mean.
         */
        ttft_quantile: z.number().gt(0).lt(1).default(0.9),
      })
      .prefault({}),
    /** Log decisions without acting on Kubernetes. */
    dry_run: z.boolean().default(false),
    /** Pools to size; empty means one `prefill` and one `decode` pool of Qwen3-8B on H100. */
    pools: z.array(plannerPoolEntry).default([]),
    /** Most GPUs all pools may hold together (replicas x tp); 0 = no limit. */
    gpu_budget: z.number().int().nonnegative().default(0),
    /** KV-transfer link between prefill and decode workers (common/profiles/links.ts). */
    kv_link: z.string().min(1).default('ib-400g'),
    /**
     * Fixed seconds a disaggregated request pays beyond the link's own setup: the extra round
     * trip to the prefill worker, its scheduling, the KV-pull handshake. Raises the threshold.
     */
    handoff_overhead_s: z.number().nonnegative().default(0.005),
    predictor: z
      .strictObject({
        /** A predictor name from planner/predict's registry: constant, moving-average, holt, daily. */
        kind: z.string().min(1).default('holt'),
        /** moving-average: observations averaged. */
        window: z.number().int().positive().default(6),
        /** holt: level smoothing, 0-1. */
        alpha: z.number().gt(0).max(1).default(0.5),
        /** holt: trend smoothing, 0-1. */
        beta: z.number().min(0).max(1).default(0.2),
        /** daily: the pattern's period and the width of one time-of-day bin, seconds. */
        period_s: z.number().positive().default(86_400),
        bin_s: z.number().positive().default(900),
        /** daily: how fast a bin's remembered value follows new days, 0-1. */
        season_alpha: z.number().gt(0).max(1).default(0.3),
      })
      .prefault({}),
    targets: z
      .strictObject({
        /** Highest prefill-pool utilisation planned for, whatever the TTFT slack allows (0-1]. */
        max_prefill_utilization: z.number().gt(0).max(1).default(0.85),
        /** Share of a decode replica's KV cache the planner fills at most (0-1]. */
        max_kv_usage: z.number().gt(0).max(1).default(0.9),
      })
      .prefault({}),
    stability: z
      .strictObject({
        /** A pool shrinks only to the largest size recommended over this many seconds. */
        scale_down_window_s: z.number().nonnegative().default(300),
        /**
         * Scale-down happens only if the remaining replicas would run at most (1 - this) of their
         * capacity; the band between scale-up and scale-down points that stops 2 <-> 1 flapping.
         */
        scale_down_headroom: z.number().min(0).lt(1).default(0.2),
        /** The threshold moves only when the new value differs by more than this fraction. */
        threshold_deadband: z.number().min(0).lt(1).default(0.1),
      })
      .prefault({}),
    source: z
      .strictObject({
        /**
         * `scrape`: GET the orchestrator's /metrics text and diff successive scrapes;
         * `prometheus`: query a Prometheus server's HTTP API; `push`: observations are handed in.
         */
        kind: z.enum(['scrape', 'prometheus', 'push']).default('scrape'),
        /** The /metrics URL (scrape) or the Prometheus base URL (prometheus). */
        url: z.string().url().default('http://127.0.0.1:8000/metrics'),
        /** Seconds a scrape or query may take. */
        timeout_s: z.number().positive().default(5),
      })
      .prefault({}),
    hooks: z
      .strictObject({
        /**
         * `hpa`: export tandem_planner_desired_replicas for prometheus-adapter; `keda`: serve
         * KEDA's external-scaler gRPC API; `direct`: patch each pool's Deployment scale; `none`.
         */
        mode: z.enum(['hpa', 'keda', 'direct', 'none']).default('hpa'),
        /** Namespace of the pools' Deployments (direct mode). */
        namespace: z.string().min(1).default('default'),
        /** Bind address of /metrics, /decision, /healthz and the KEDA gRPC server. */
        host: z.string().min(1).default('127.0.0.1'),
        metrics_port: z.number().int().min(0).max(65535).default(9400),
        keda_port: z.number().int().min(0).max(65535).default(9401),
        /** A kubeconfig file for direct mode; default: in-cluster, then ~/.kube/config. */
        kubeconfig: z.string().min(1).optional(),
      })
      .prefault({}),
  })
  .superRefine((section, context) => {
    const seen = new Set<string>();
    section.pools.forEach((pool, index) => {
      if (seen.has(pool.name))
        context.addIssue({
          code: 'custom',
          path: ['pools', index, 'name'],
          message: `duplicate pool name "${pool.name}"`,
        });
      seen.add(pool.name);
      if (pool.min_replicas > pool.max_replicas)
        context.addIssue({
          code: 'custom',
          path: ['pools', index, 'min_replicas'],
          message: `min_replicas (${pool.min_replicas}) exceeds max_replicas (${pool.max_replicas})`,
        });
    });
    if (section.pools.length > 0) {
      for (const role of ['prefill', 'decode'] as const) {
        if (!section.pools.some((pool) => pool.role === role))
          context.addIssue({ code: 'custom', path: ['pools'], message: `needs at least one ${role} pool` });
      }
    }
  });

export type PlannerPoolEntry = z.output<typeof plannerPoolEntry>;
export type PlannerSection = z.output<typeof plannerSection>;
