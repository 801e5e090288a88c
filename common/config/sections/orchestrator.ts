import { z } from 'zod';

/** Bounds on request contents, checked before anything runs (each breach is a 400 naming the field). */
const limitsSection = z.strictObject({
  /** Most entries an OpenAI `stop` list may hold (OpenAI allows 4; vLLM any number). */
  max_stop_sequences: z.number().int().positive().default(16),
  /** Longest single stop string, characters. The frontend holds back this many - 1 characters of a stream. */
  max_stop_chars: z.number().int().positive().default(256),
  /** Most entries in `stop_token_ids`. */
  max_stop_token_ids: z.number().int().positive().default(64),
  /** Most messages in one chat request. */
  max_messages: z.number().int().positive().default(4096),
});

/**
 * The frontend's admission bound: at most `max_inflight` requests run in the core at once; the
 * next `max_queued` wait in FIFO order; beyond that a request gets 429 with Retry-After, and one
 * that waited `queue_timeout_s` gets 503 with Retry-After.
 */
const admissionSection = z.strictObject({
  max_inflight: z.number().int().positive().default(4096),
  max_queued: z.number().int().nonnegative().default(4096),
  queue_timeout_s: z.number().positive().default(30),
  /** Seconds a rejected client is told to wait (Retry-After). */
  retry_after_s: z.number().int().positive().default(1),
});

/** The OpenAI-compatible front door. */
export const orchestratorSection = z.strictObject({
  /** Bind address. Loopback by default; deployments set 0.0.0.0. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8000),
  /** The model name clients send and /v1/models lists. */
  model: z.string().min(1).default('Qwen/Qwen3-8B'),
  /** `qwen3` (bundled, offline) or a directory holding tokenizer.json and tokenizer_config.json. */
  tokenizer: z.string().min(1).default('qwen3'),
  /** Context length, tokens: prompt + max_tokens must fit (Qwen3-8B's native 32768 by default). */
  max_model_len: z.number().int().positive().default(32768),
  /** Largest request body accepted, bytes. */
  max_body_bytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** A request still running after this long is cancelled, seconds. */
  request_timeout_s: z.number().positive().default(600),
  /** When set, /v1/* and /debug/* require `Authorization: Bearer <api_key>` (as vLLM's --api-key). */
  api_key: z.string().min(1).optional(),
  /** Request header whose value is the `session` policy's affinity key (the body's `user` otherwise). */
  session_header: z.string().min(1).default('x-session-id'),
  limits: limitsSection.prefault({}),
  admission: admissionSection.prefault({}),
});
