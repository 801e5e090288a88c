import { z } from 'zod';

/** vLLM's allowed KV block sizes (CacheConfig.block_size). */
const BLOCK_SIZES = [1, 8, 16, 32, 64, 128, 256] as const;

/** The worker process (`tandem worker`): which engine, which profile, where it listens. */
export const workerSection = z.strictObject({
  engine: z.enum(['sim', 'reference']).default('sim'),
  role: z.enum(['prefill', 'decode', 'both']).default('both'),
  /** GPU and model profile names from common/profiles. */
  gpu: z.string().min(1).default('h100-sxm'),
  model: z.string().min(1).default('qwen3-8b'),
  tp: z.number().int().positive().default(1),
  host: z.string().min(1).default('127.0.0.1'),
  /** Ports; 0 picks a free one (the worker logs what it bound). */
  grpc_port: z.number().int().min(0).max(65535).default(50051),
  http_port: z.number().int().min(0).max(65535).default(8100),
  kv_events_port: z.number().int().min(0).max(65535).default(5557),
  replay_port: z.number().int().min(0).max(65535).default(5558),
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
