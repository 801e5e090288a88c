import { availableParallelism } from 'node:os';
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
  /** Deepest JSON nesting a request body may have, levels (checked by a scan before parsing; tool schemas nest a few dozen). */
  max_json_depth: z.number().int().positive().default(128),
});

/**
 * Admission: at most `max_inflight` requests in the frontend at once (beyond it: 429 with
 * Retry-After `retry_after_s`). Requests that find no worker with room wait, in FIFO order, up
 * to `max_queued` of them and for at most `queue_timeout_s`; an arrival that would wait longer
 * than its waiting budget at the rate the line is draining is refused at once (429), one that
 * waits its budget in line gets 503; both carry Retry-After = the line's expected drain time. The
 * budget is `queue_wait_ttft_factor` x the time the workers take from placing a request to its
 * first token (a running estimate), at most `queue_timeout_s` (orchestrator/dispatch/wait-budget.ts).
 *
 * There is one queue. Run as `tandem orchestrator`, the waiting happens in the dispatcher,
 * which knows which workers have room (`dispatch.max_inflight_per_worker`, ...); the frontend
 * then only enforces `max_inflight`, and its own FIFO is used only in front of a core that does
 * not queue (the frontend's tests, embedding).
 *
 * The orchestrator itself can be the bottleneck (its CPU, not the workers): while the event
 * loop's mean delay exceeds `shed_event_loop_lag_ms`, new generation requests get 503 at once,
 * before their body is read (0 turns this off).
 */
const admissionSection = z.strictObject({
  /** A bound on memory, not the capacity limit (the dispatcher's is); requests being parsed, waiting and running. */
  max_inflight: z.number().int().positive().default(4096),
  /** Unset: the fleet's in-flight capacity (decode-capable workers x dispatch.max_inflight_per_worker), following the fleet. */
  max_queued: z.number().int().nonnegative().optional(),
  /** Unset: half of planner.slo.ttft_s (a request that waited half its TTFT budget in line would miss it anyway). */
  queue_timeout_s: z.number().positive().optional(),
  /**
   * Waiting budget, as a multiple of the fleet's TTFT for a request that does not wait (the 90th
   * percentile of its last 256 placed-to-first-token times): an admitted request's TTFT stays
   * within (1 + this) x that. Capped by queue_timeout_s.
   */
  queue_wait_ttft_factor: z.number().positive().default(2),
  /** Retry-After, seconds, where no drain time is known: the frontend's in-flight bound, no healthy worker, shutdown. */
  retry_after_s: z.number().int().positive().default(1),
  /**
   * Event-loop delay (perf_hooks, mean over 500 ms windows) past which new generation requests
   * are shed, ms. A saturated orchestrator runs at hundreds of ms; a healthy busy one at a few.
   */
  shed_event_loop_lag_ms: z.number().nonnegative().default(200),
});

/** `admission.queue_timeout_s` as configured, or its default: half the TTFT SLO. */
export function queueTimeoutSeconds(config: {
  readonly orchestrator: { readonly admission: { readonly queue_timeout_s?: number | undefined } };
  readonly planner: { readonly slo: { readonly ttft_s: number } };
}): number {
  return config.orchestrator.admission.queue_timeout_s ?? config.planner.slo.ttft_s / 2;
}

/**
 * Worker health: each worker's status (gRPC GetStatus; vLLM /health and /metrics) is polled
 * every `interval_s`. A worker is routed to after its first good status; `failure_threshold`
 * failed polls in a row eject it, `success_threshold` good ones in a row readmit it (SGLang's
 * router: 3 and 2).
 */
const healthSection = z.strictObject({
  interval_s: z.number().positive().default(2),
  /** One status call gives up after this long, seconds. */
  timeout_s: z.number().positive().default(2),
  failure_threshold: z.number().int().positive().default(3),
  success_threshold: z.number().int().positive().default(2),
});

/**
 * The dispatcher: when a worker counts as saturated (no new request is sent to it; when every
 * eligible worker is, requests wait in the admission queue), and retries.
 */
const dispatchSection = z.strictObject({
  /** In-flight requests per worker (data-parallel rank), as booked and as reported, at which it is saturated. */
  max_inflight_per_worker: z.number().int().positive().default(256),
  /**
   * Prompt tokens queued for prefill on a worker at which it is saturated. Dynamo queues when
   * every worker holds more than 4 x max_num_batched_tokens; 4 x 8192 here.
   */
  max_queued_prefill_tokens_per_worker: z.number().int().positive().default(32768),
  /**
   * Share of a worker's KV blocks (its GPU x model profile's capacity) that its requests may
   * hold, counting the one being placed, before it is saturated: the rest keeps the prefix cache
   * that makes the worker worth routing to. Past it, the engine would evict the cached prefixes
   * its next requests hit, and they would miss.
   */
  max_kv_usage: z.number().positive().max(1).default(0.9),
  /** Retry a request once on another worker when its worker fails before the first token. */
  retry_before_first_token: z.boolean().default(true),
});

/**
 * Sharing bookings between the serving processes of one machine (always, over cluster IPC) and
 * between replicas on several machines (over NATS core, when `nats_url` is set). Without NATS a
 * replica routes on its own bookings plus the workers' status reports; one process needs neither.
 */
const replicaSyncSection = z.strictObject({
  /** `nats://host:4222` (comma-separated for a NATS cluster); unset: no cross-machine sync. */
  nats_url: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s]+$/, 'must be nats://host:port (comma-separated for several)')
    .optional(),
  /** Subject every replica of one fleet publishes and subscribes on. */
  subject: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _, - and . only')
    .default('tandem.replica-sync'),
  /** A process that sent nothing else for this long sends a heartbeat, seconds. */
  heartbeat_s: z.number().positive().default(1),
  /** A peer not heard from for this long is gone and its bookings are dropped, seconds (> heartbeat_s). */
  peer_timeout_s: z.number().positive().default(5),
  /** Wait between NATS reconnection attempts, seconds. */
  reconnect_wait_s: z.number().positive().default(1),
});

/** The OpenAI-compatible front door. */
export const orchestratorSection = z
  .strictObject({
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
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024),
    /** A request still running after this long is cancelled, seconds. */
    request_timeout_s: z.number().positive().default(600),
    /**
     * A response whose client has taken none of its pending bytes for this long is ended (socket
     * destroyed, request cancelled, its booking and admission slot released), seconds.
     */
    client_write_timeout_s: z.number().positive().default(30),
    /** When set, /v1/* and /debug/* require `Authorization: Bearer <api_key>` (as vLLM's --api-key). */
    api_key: z.string().min(1).optional(),
    /** Request header whose value is the `session` policy's affinity key (the body's `user` otherwise). */
    session_header: z.string().min(1).default('x-session-id'),
    limits: limitsSection.prefault({}),
    admission: admissionSection.prefault({}),
    health: healthSection.prefault({}),
    dispatch: dispatchSection.prefault({}),
    /**
     * The planner's HTTP edge (`tandem planner`: /decision), e.g. http://tandem-planner:9400. One
     * poller reads it every `planner_poll_s`: the status page shows the decision, and its
     * `disaggregation_threshold_tokens` becomes the live `auto` threshold (unless
     * disaggregation.follow_planner is false). Unset: "no planner", the threshold stays as configured.
     */
    planner_url: z.url({ protocol: /^https?$/ }).optional(),
    /** Seconds between reads of the planner's /decision (it decides every planner.interval_s). */
    planner_poll_s: z.number().positive().default(5),
    /** On SIGTERM/SIGINT: stop admitting, then wait this long for running requests before cancelling them, seconds. */
    shutdown_grace_s: z.number().nonnegative().default(30),
    /**
     * How far V8 lets a serving process's heap grow past what survived its last full collection
     * before the next one, percent (V8's --heap-growing-percent); 0 leaves V8's own factor.
     * A client refused in a loop (7 MB prompts, hundreds a second) leaves garbage that outlives
     * the young generation while its connection lingers: with V8's factor the heap grew 130-180 MB
     * before a full collection; at 60 it stays within tens of MB, for no CPU per request that the
     * front-door benches can tell apart (bench/README.md, issue 16).
     */
    heap_growth_percent: z.number().int().nonnegative().max(1000).default(60),
    /**
     * Serving processes behind the one port (node:cluster), each a whole orchestrator sharing its
     * bookings with the others; `auto`: the machine's available parallelism. 1 runs a plain single
     * process (no primary, nothing forked).
     */
    processes: z.union([z.literal('auto'), z.number().int().positive().max(256)]).default('auto'),
    replica_sync: replicaSyncSection.prefault({}),
  })
  .refine((o) => o.replica_sync.peer_timeout_s > o.replica_sync.heartbeat_s, {
    message: 'replica_sync.peer_timeout_s must exceed replica_sync.heartbeat_s',
    path: ['replica_sync', 'peer_timeout_s'],
  });

/** Serving processes `orchestrator.processes` asks for: `auto` is the machine's available parallelism. */
export const processCount = (orchestrator: { readonly processes: 'auto' | number }): number =>
  orchestrator.processes === 'auto' ? availableParallelism() : orchestrator.processes;
