import { z } from 'zod';

/** One worker the orchestrator fronts (static discovery; the config file is re-read on SIGHUP). */
export const workerEntry = z.strictObject({
  /** Unique, stable name used in logs, metrics and /debug/workers. */
  name: z.string().min(1),
  role: z.enum(['prefill', 'decode', 'both']).default('both'),
  /** `grpc`: tandem.v1.WorkerService at host:port; `vllm-http`: a vLLM OpenAI server at a URL. */
  backend: z.enum(['grpc', 'vllm-http']).default('grpc'),
  address: z.string().min(1),
  /** vLLM KV-event ZMQ endpoints; for gRPC workers they are read from GetStatus when omitted. */
  kv_events: z
    .strictObject({
      endpoint: z.string().min(1),
      replay_endpoint: z.string().min(1).optional(),
      topic: z.string().default(''),
    })
    .optional(),
});

export const workersSection = z.array(workerEntry).default([]);
