import { z } from 'zod';

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
});
