/**
 * The names, labels and units of every metric the orchestrator exports. The planner, the
 * Grafana dashboard and the prometheus-adapter rules in deploy/ read these names; a test checks
 * that everything they reference exists here. Counters end in _total; times are seconds.
 */
export const ORCHESTRATOR_METRICS = {
  /** Counter. Requests by outcome ("success", "error", "cancelled", "rejected") and mode ("aggregated", "disaggregated"). */
  requests: 'tandem_requests_total',
  /** Histogram, seconds, label mode. From request arrival to the first token sent. */
  timeToFirstToken: 'tandem_time_to_first_token_seconds',
  /** Histogram, seconds, label mode. Between consecutive tokens of one stream. */
  interTokenLatency: 'tandem_inter_token_latency_seconds',
  /** Histogram, seconds. From arrival to the last byte. */
  e2eLatency: 'tandem_e2e_request_latency_seconds',
  /** Counter, tokens. Prompt tokens of finished requests. */
  promptTokens: 'tandem_prompt_tokens_total',
  /** Counter, tokens. Prompt tokens served from a prefix cache; hit rate = cached / prompt. */
  cachedPromptTokens: 'tandem_cached_prompt_tokens_total',
  /** Counter, tokens. Generated tokens. */
  generationTokens: 'tandem_generation_tokens_total',
  /** Histogram, tokens. Input sequence length per request (ISL). */
  requestPromptTokens: 'tandem_request_prompt_tokens',
  /** Histogram, tokens. Output sequence length per request (OSL). */
  requestGenerationTokens: 'tandem_request_generation_tokens',
  /** Histogram, seconds. Hashing + index lookup + policy for one request. */
  routerDecision: 'tandem_router_decision_seconds',
  /** Gauge, requests, label worker, role. In flight on the worker as booked by the router. */
  workerInflightRequests: 'tandem_worker_inflight_requests',
  /** Gauge, tokens, label worker. Prompt tokens routed to the worker and not yet prefilled. */
  workerQueuedPrefillTokens: 'tandem_worker_queued_prefill_tokens',
  /** Gauge, blocks, label worker. KV blocks of the worker's running decodes. */
  workerActiveKvBlocks: 'tandem_worker_active_kv_blocks',
  /** Gauge, blocks, label worker. Blocks the router's index holds for the worker. */
  workerIndexedBlocks: 'tandem_worker_indexed_blocks',
  /** Gauge, 0 or 1, label worker, role. */
  workerHealthy: 'tandem_worker_healthy',
  /** Gauge, 0 or 1, label worker. 1 while the worker's announced KV block size differs from routing.block_size (it is not routed to). */
  workerBlockSizeMismatch: 'tandem_worker_block_size_mismatch',
  /**
   * Counter, labels worker, outcome (match, mismatch, unavailable). Start-up self-checks of the
   * chat template against a vllm-http worker's /tokenize: a mismatch means the router's prefix
   * hashes for chats differ from the engine's on that worker.
   */
  chatTemplateChecks: 'tandem_chat_template_checks_total',
  /** Counter, label worker. KV-event batches applied to the index. */
  kvEventsApplied: 'tandem_kv_events_applied_total',
  /** Counter, label worker. Sequence gaps seen (each triggers a replay). */
  kvEventGaps: 'tandem_kv_event_gaps_total',
  /** Counter, blocks. KV blocks pulled by decode workers in disaggregated requests. */
  kvTransferBlocks: 'tandem_kv_transfer_blocks_total',
  /** Counter, bytes. */
  kvTransferBytes: 'tandem_kv_transfer_bytes_total',
  /** Gauge, requests. Waiting in the admission queue for a worker with room. */
  queueDepth: 'tandem_queue_depth',
  /** Gauge, seconds. The orchestrator's event-loop delay, mean over the last 500 ms window (what load shedding reads). */
  eventLoopLag: 'tandem_event_loop_lag_seconds',
  /** Counter. Generation requests refused at the door (503) because the orchestrator's own event loop lagged. */
  loadShed: 'tandem_load_shed_total',
  /** Counter. Responses ended because the client stopped reading for orchestrator.client_write_timeout_s (socket destroyed). */
  clientWriteTimeouts: 'tandem_client_write_timeouts_total',
  /**
   * Histogram, seconds. A request refused while its body was still being read (too large, nested
   * too deep, a prompt that cannot fit the context): from the start of its body's read, just after
   * its head, to the last byte of the answer handed to the kernel. The server's own share of the
   * refusal latency a client sees.
   */
  bodyRefusal: 'tandem_body_refusal_seconds',
  /** Gauge, requests, label worker, role. Running on the worker, as it last reported (read at scrape time). */
  workerRunningRequests: 'tandem_worker_running_requests',
  /** Gauge, requests, label worker, role. Waiting in the worker's own queue, as it last reported. */
  workerWaitingRequests: 'tandem_worker_waiting_requests',
  /** Gauge, 0-1, label worker, role. Share of the worker's KV blocks held by running requests, as it last reported. */
  workerKvUsage: 'tandem_worker_kv_usage',
  /** Gauge, 0 or 1, label transport ("ipc", "nats"). 1 while booking deltas flow over it. */
  replicaSyncConnected: 'tandem_replica_sync_connected',
  /** Counter, label direction ("sent", "received"), transport. Replica-sync messages (one per event-loop turn with deltas, or a heartbeat). */
  replicaSyncMessages: 'tandem_replica_sync_messages_total',
  /** Gauge. Other serving processes and replicas heard from within replica_sync.peer_timeout_s. */
  replicaSyncPeers: 'tandem_replica_sync_peers',
  /** Gauge, requests. Bookings of other processes and replicas applied to this one's load book. */
  replicaSyncRemoteBookings: 'tandem_replica_sync_remote_bookings',
} as const;

/** What the cluster primary exports beside its serving processes' series (orchestrator.processes > 1). */
export const CLUSTER_METRICS = {
  /** Counter. Serving processes the primary restarted after they died. */
  processRestarts: 'tandem_orchestrator_process_restarts_total',
  /** Gauge. Serving processes running now. */
  processes: 'tandem_orchestrator_processes',
} as const;

/** Metrics Kubernetes discovery exports (only with discovery.kind kubernetes; orchestrator/discovery owns them). */
export const DISCOVERY_METRICS = {
  /** Counter, label reason (missing-role, missing-port, bad-metadata). Ready pods skipped, once per pod and reason. */
  podsSkipped: 'tandem_discovery_pods_skipped_total',
  /** Counter. Pod lists or watches that failed (retried with backoff; the worker set is kept). */
  watchFailures: 'tandem_discovery_watch_failures_total',
  /** Gauge, workers. Workers found in pods now. */
  workers: 'tandem_discovery_workers',
} as const;

/** Metrics the planner exports (planner/ owns them; listed here so deploy/ checks one table). */
export const PLANNER_METRICS = {
  /** Gauge, replicas, label pool. What an HPA with an AverageValue: 1 target follows. */
  desiredReplicas: 'tandem_planner_desired_replicas',
  /** Gauge, requests/s. The predicted arrival rate for the next interval. */
  predictedRequestRate: 'tandem_planner_predicted_request_rate',
  /** Gauge, tokens. The recommended disaggregation threshold. */
  disaggregationThreshold: 'tandem_planner_disaggregation_threshold_tokens',
} as const;
