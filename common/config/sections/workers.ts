import { z } from 'zod';

/**
 * One worker the orchestrator fronts (static discovery; the config file is re-read on SIGHUP).
 * What a worker announces about itself (GetStatus for gRPC; /metrics for vLLM) wins over the
 * hints here; the hints cover what a worker cannot tell (a vLLM server's GPU, its KV-event
 * endpoints).
 */
export const workerEntry = z.strictObject({
  /** Unique, stable name used in logs, metrics and /debug/workers. */
  name: z.string().min(1),
  /** Used when the worker does not announce its role (vLLM never does). */
  role: z.enum(['prefill', 'decode', 'both']).default('both'),
  /** `grpc`: tandem.v1.WorkerService at host:port; `vllm-http`: a vLLM OpenAI server at a URL. */
  backend: z.enum(['grpc', 'vllm-http']).default('grpc'),
  /** gRPC: "host:port". vllm-http: "http://host:port" (a bare host:port gets http://). */
  address: z.string().min(1),
  /** vLLM KV-event ZMQ endpoints; for gRPC workers they are read from GetStatus when omitted. */
  kv_events: z
    .strictObject({
      endpoint: z.string().min(1),
      replay_endpoint: z.string().min(1).optional(),
      topic: z.string().default(''),
    })
    .optional(),
  /**
   * Data-parallel ranks behind this address (vLLM --data-parallel-size). Each rank is its own
   * routing tenant (`name@rank`) with its own KV-event subscriber on the configured ports plus
   * the rank (vLLM's offset_endpoint_port). gRPC workers announce their ranks in GetStatus.
   */
  data_parallel_size: z.number().int().positive().default(1),
  /** GPU x model x TP for the cost model, as common/profiles names, when the worker does not announce them. */
  gpu: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  tp: z.number().int().positive().optional(),
  /** vllm-http: the model name to send; default: the first model the server lists at /v1/models. */
  served_model_name: z.string().min(1).optional(),
});

export type WorkerEntry = z.output<typeof workerEntry>;

export const workersSection = z
  .array(workerEntry)
  .default([])
  .superRefine((workers, context) => {
    const seen = new Set<string>();
    workers.forEach((worker, index) => {
      if (seen.has(worker.name)) context.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate worker name "${worker.name}" (names must be unique)` });
      seen.add(worker.name);
    });
  });
