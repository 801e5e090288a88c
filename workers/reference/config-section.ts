import { z } from 'zod';

/**
 * Config for the reference engine (`worker.engine: reference`), meant to be mounted as
 * `worker.reference` in common/config/schema.ts. It imports only zod so it can move to
 * common/config/sections/ as is; config-section.test.ts checks its defaults against
 * DEFAULT_REFERENCE_MODEL_CONFIG so the two cannot drift. Block size and block count are the
 * engine's (block manager's) settings, not this section's.
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
      /** Tokens (prompt + output). */
      max_model_len: z.number().int().positive().default(32768),
    })
    .prefault({}),
  /** The TCP block server decode workers pull KV from, and the client that pulls. */
  kv_transfer: z
    .strictObject({
      /** Interface the block server binds; it is also the host put in KvHandoff unless advertised differently. */
      host: z.string().min(1).default('127.0.0.1'),
      /** 0 picks a free port (the worker reports the bound one in its handoffs). */
      port: z.number().int().min(0).max(65535).default(0),
      /** Bound on one whole pull (connect, request, every byte), milliseconds. */
      timeout_ms: z.number().int().positive().default(10_000),
    })
    .prefault({}),
});

export type ReferenceSection = z.output<typeof referenceSection>;
