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
  /**
   * Unset: the role the worker announces (Tandem's gRPC workers do), else `both` (vLLM never
   * announces one). Set: a check; a worker announcing another role is used as it announces,
   * with a warning.
   */
  role: z.enum(['prefill', 'decode', 'both']).optional(),
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
  /**
   * How a disaggregated request moves this worker's KV (orchestrator/backends/handoff). A prefill
   * and a decode worker are paired only when they name the same protocol.
   */
  kv_transfer: z
    .strictObject({
      /**
       * `tandem`: gRPC Prefill returns a KvHandoff, Decode takes it (grpc backend only).
       * `nixl`: vLLM's NixlConnector, kv_transfer_params from the prefill response to the decode request.
       * `p2p-nccl`: vLLM's P2pNcclConnector, peers named in the X-Request-Id.
       * `sglang`: SGLang's bootstrap host/port/room, prefill and decode sent together.
       * Unset: `tandem` for grpc, `nixl` for vllm-http.
       */
      protocol: z.enum(['tandem', 'nixl', 'p2p-nccl', 'sglang']).optional(),
      /** p2p-nccl: the engine's `zmq_address` ("ip:kv_port", kv_transfer_config kv_port), which request ids name. */
      nccl_address: z.string().min(1).optional(),
      /** sglang, prefill workers: `--disaggregation-bootstrap-port` (SGLang's default 8998); null sends no port. */
      bootstrap_port: z.number().int().min(1).max(65535).nullable().default(8998),
    })
    .optional(),
});

export type WorkerEntry = z.output<typeof workerEntry>;

export const workersSection = z
  .array(workerEntry)
  .default([])
  .superRefine((workers, context) => {
    const seen = new Set<string>();
    workers.forEach((worker, index) => {
      if (seen.has(worker.name))
        context.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `duplicate worker name "${worker.name}" (names must be unique)`,
        });
      seen.add(worker.name);
      const protocol = worker.kv_transfer?.protocol;
      if (protocol !== undefined && (protocol === 'tandem') !== (worker.backend === 'grpc')) {
        context.addIssue({
          code: 'custom',
          path: [index, 'kv_transfer', 'protocol'],
          message: `protocol ${protocol} does not run over backend ${worker.backend} (grpc: tandem; vllm-http: nixl, p2p-nccl, sglang)`,
        });
      }
      if (protocol === 'p2p-nccl' && worker.kv_transfer?.nccl_address === undefined) {
        context.addIssue({
          code: 'custom',
          path: [index, 'kv_transfer', 'nccl_address'],
          message: 'p2p-nccl needs the engine\'s zmq_address ("ip:kv_port")',
        });
      }
    });
  });
