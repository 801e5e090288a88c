import { z } from 'zod';

/**
 * The reference engine (`worker.engine: reference`), mounted as `worker.reference`: a tiny
 * seeded transformer computing real float32 KV (workers/reference/). Every other engine knob
 * (block_size, max_num_seqs, max_model_len, prefix caching, hash_seed, kv_hold_timeout_s,
 * dp_rank, gpu/model names for status) comes from the `worker` section as for the simulated
 * engine, except two whose simulated defaults make no sense on a CPU: the pool size and the
 * step token budget, below.
 */
export const referenceSection = z.strictObject({
  /** The model's shape; every worker of a deployment must use the same values. */
  model: z
    .strictObject({
      /** Seeds the weights. Not worker.seed: that one may differ per worker, this one must not. */
      seed: z.union([z.number().int().nonnegative(), z.string().min(1)]).default(0),
      num_layers: z.number().int().positive().default(3),
      hidden_size: z.number().int().positive().default(32),
      /** Query heads, a multiple of num_kv_heads. */
      num_heads: z.number().int().positive().default(4),
      num_kv_heads: z.number().int().positive().default(2),
      /** A multiple of 4. */
      head_dim: z.number().int().positive().multipleOf(4).default(8),
      intermediate_size: z.number().int().positive().default(64),
      /** Input ids must be below this (Qwen3's vocabulary). */
      input_vocab_size: z.number().int().positive().default(151936),
      embedding_rows: z.number().int().positive().default(1024),
      /** Output vocabulary: first_output_id .. first_output_id + output_id_count - 1, plus eos_id. */
      first_output_id: z.number().int().nonnegative().default(5000),
      output_id_count: z.number().int().positive().default(255),
      /** Qwen3's <|im_end|>. */
      eos_id: z.number().int().nonnegative().default(151645),
      rope_theta: z.number().gt(1).default(10000),
      rms_norm_eps: z.number().positive().default(1e-6),
      /** Tokens (prompt + output); worker.max_model_len, when set, may only lower it. */
      max_model_len: z.number().int().positive().default(32768),
    })
    .prefault({}),
  /** The TCP block server decode workers pull KV from, and the client that pulls. */
  kv_transfer: z
    .strictObject({
      /**
       * Interface the block server binds; unset: the worker's own `host`. Handoffs carry the
       * worker's advertised host when this is the worker's host or a wildcard, else this one.
       */
      host: z.string().min(1).optional(),
      /** 0 picks a free port (the worker reports the bound one in its handoffs and GetStatus). */
      port: z.number().int().min(0).max(65535).default(0),
      /** Bound on one whole pull or release notification (connect, request, every byte), milliseconds. */
      timeout_ms: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /**
   * KV blocks in the pool when worker.num_gpu_blocks is unset. At the default shape and 16-token
   * blocks a block is 6144 bytes: 4096 blocks are 24 MiB and 65,536 tokens.
   */
  num_blocks: z.number().int().positive().default(4096),
  /**
   * Tokens one forward pass computes at most (replaces worker.max_num_batched_tokens, vLLM's 8192,
   * for this engine). A pass runs synchronously on the event loop, so this bounds how long the
   * worker stops answering: at the default shape about 0.1-0.4 ms per token, growing with the
   * context (bench/engine/reference-engine.ts).
   */
  max_num_batched_tokens: z.number().int().positive().default(256),
});

export type ReferenceConfig = z.output<typeof referenceSection>;

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
  http_max_body_bytes: z
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024),
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
    .refine((value) => (BLOCK_SIZES as readonly number[]).includes(value), {
      message: `must be one of ${BLOCK_SIZES.join(', ')}`,
    })
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
  hash_seed: z
    .union([z.string().min(1), z.number().int()])
    .transform(String)
    .default('0'),
  /** Seconds a prefill worker holds a request's blocks for a decode worker (VLLM_NIXL_ABORT_REQUEST_TIMEOUT). */
  kv_hold_timeout_s: z.number().positive().default(480),
  /** Link a decode worker pulls KV over: a name from common/profiles/links.ts. */
  kv_link: z.string().min(1).default('ib-400g'),
  /** Per-token chance the simulated model emits EOS (0: runs to max_tokens or a stop id). */
  eos_probability: z.number().min(0).max(1).default(0),
  /** Data-parallel rank stamped on KV-event batches. */
  dp_rank: z.number().int().nonnegative().default(0),

  /** The reference engine's own settings (engine: reference). */
  reference: referenceSection.prefault({}),
});

export type WorkerConfig = z.output<typeof workerSection>;
