import { z } from 'zod';

/** The OpenAI-compatible front door. */
export const orchestratorSection = z.strictObject({
  /** Bind address. Loopback by default; deployments set 0.0.0.0. */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8000),
  /** The model name clients send and /v1/models lists. */
  model: z.string().min(1).default('Qwen/Qwen3-8B'),
  /** `qwen3` (bundled, offline) or a directory holding tokenizer.json and tokenizer_config.json. */
  tokenizer: z.string().min(1).default('qwen3'),
  /** Largest request body accepted, bytes. */
  max_body_bytes: z.number().int().positive().default(8 * 1024 * 1024),
  /** A request still running after this long is cancelled, seconds. */
  request_timeout_s: z.number().positive().default(600),
});
