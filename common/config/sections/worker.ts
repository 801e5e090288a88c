import { z } from 'zod';

/** vLLM's allowed KV block sizes (CacheConfig.block_size). */
const BLOCK_SIZES = [1, 8, 16, 32, 64, 128, 256] as const;

/** vLLM KV-event wire shapes (proto/kv-events KV_EVENT_SHAPES; common/ may not import proto/). */
const KV_EVENT_SHAPES = ['current', 'legacy-12', 'legacy-7'] as const;

/** The worker process (`tandem worker`): which engine, which profile, where it listens. */
export const workerSection = z.strictObject({
  engine: z.enum(['sim', 'reference']).default('sim'),
  /**
   * What the worker advertises (GetStatus, /metrics) for the router to use. It restricts
   * nothing: like vLLM, whose kv_role is a placeholder for NIXL, every worker serves Generate,
   * Prefill and Decode; which worker gets which is the router's choice.
   */
  role: z.enum(['prefill', 'decode', 'both']).default('both'),
  /** GPU and model profile names from common/profiles. */
  gpu: z.string().min(1).default('h100-sxm'),
  model: z.string().min(1).default('qwen3-8b'),
  tp: z.number().int().positive().default(1),
  host: z.string().min(1).default('127.0.0.1'),
  /**
   * Ports; 0 picks a free one (the worker prints what it bound). The KV-event ports are bases,
   * as in vLLM: data-parallel rank r binds kv_events_port + r and replay_port + r.
   */
  grpc_port: z.number().int().min(0).max(65535).default(50051),
  http_port: z.number().int().min(0).max(65535).default(8100),
  kv_events_port: z.number().int().min(0).max(65535).default(5557),
  replay_port: z.number().int().min(0).max(65535).default(5558),
  /**
   * Host put in the addresses others connect to (KvHandoff host, GetStatus KV-event endpoints,
   * kv_transfer_params remote_host). Unset: `host`, or this machine's first non-loopback IPv4
   * address when `host` is a wildcard (0.0.0.0, ::).
   */
  advertise_host: z.string().min(1).optional(),
  /** The model name /v1/models lists and requests must name; unset: the model profile's Hugging Face id. */
  served_model_name: z.string().min(1).optional(),
  /** Tokenizer of the HTTP facade's text prompts: `qwen3` (bundled) or a Hugging Face model directory. */
  tokenizer: z.string().min(1).default('qwen3'),
  /** Publish vLLM KV events (ZMQ PUB on kv_events_port, replay ROUTER on replay_port). */
  enable_kv_cache_events: z.boolean().default(true),
  /** Frame 0 of every KV-event message; vLLM's default is "" (its examples use "kv-events"). */
  kv_events_topic: z.string().default(''),
  /** Wire shape: `current` (vLLM >= 0.26, events as maps) or the positional `legacy-12` / `legacy-7`. */
  kv_event_shape: z.enum(KV_EVENT_SHAPES).default('current'),
  /** Batches kept for replay (vLLM's buffer_steps). */
  kv_events_buffer_steps: z.number().int().positive().default(10_000),
  /**
   * What a decode does when it cannot pull the prefill side's KV (peer gone, hold released or
   * expired, another incarnation): recompute the prompt here, or fail. vLLM's own default is
   * `fail`; Tandem recomputes, so a lost prefill worker costs time, not the request. A gRPC
   * Decode may choose per request.
   */
  kv_load_failure_policy: z.enum(['recompute', 'fail']).default('recompute'),
  /** Bound on one PullKv or ReleaseKv call to a prefill peer, milliseconds. */
  peer_timeout_ms: z.number().int().positive().default(5000),
  /** Largest HTTP request body accepted, bytes (413 beyond). */
  http_max_body_bytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** On SIGTERM: how long running calls get to finish after being cancelled, milliseconds. */
  shutdown_grace_ms: z.number().int().nonnegative().default(2000),
  /** Simulated time runs this many times faster than the wall clock. */
  time_scale: z.number().positive().default(1),
  seed: z.number().int().nonnegative().default(0),

  // The simulated engine (workers/engine). Names follow vLLM's engine arguments.
  /** Tokens per KV block (vLLM's CUDA default 16). */
  block_size: z
    .number()
    .int()
    .refine((value) => (BLOCK_SIZES as readonly number[]).includes(value), { message: `must be one of ${BLOCK_SIZES.join(', ')}` })
    .default(16),
  /** KV blocks; unset derives them from the GPU x model profile (memory left after weights). */
  num_gpu_blocks: z.number().int().positive().optional(),
  /** Token budget of one forward pass (prefill chunks plus decodes); vLLM's default 8192. */
  max_num_batched_tokens: z.number().int().positive().default(8192),
  /** Most requests running at once; vLLM's default 256. */
  max_num_seqs: z.number().int().positive().default(256),
  /** Longest prompt + output in tokens; unset uses the model profile's context length. */
  max_model_len: z.number().int().positive().optional(),
  enable_prefix_caching: z.boolean().default(true),
  /**
   * PYTHONHASHSEED of the emulated vLLM: the string whose sha256_cbor seeds the block-hash
   * chain. "0" reproduces a vLLM started with PYTHONHASHSEED=0.
   */
  hash_seed: z.union([z.string().min(1), z.number().int()]).transform(String).default('0'),
  /** Seconds a prefill worker holds a request's blocks for a decode worker (VLLM_NIXL_ABORT_REQUEST_TIMEOUT). */
  kv_hold_timeout_s: z.number().positive().default(480),
  /** Link a decode worker pulls KV over: a name from common/profiles/links.ts. */
  kv_link: z.string().min(1).default('ib-400g'),
  /** Per-token chance the simulated model emits EOS (0: runs to max_tokens or a stop id). */
  eos_probability: z.number().min(0).max(1).default(0),
  /** Data-parallel rank stamped on KV-event batches. */
  dp_rank: z.number().int().nonnegative().default(0),
});

export type WorkerConfig = z.output<typeof workerSection>;
