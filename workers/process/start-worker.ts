import { randomUUID } from 'node:crypto';
import { realClock, type Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { loadModelTokenizer } from '../../common/tokenizer/index.ts';
import { WorkerService } from '../../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcServer } from '../../proto/grpc/index.ts';
import type { Engine } from '../engine/engine-api.ts';
import { createHttpFacade } from '../http/index.ts';
import { createKvEventPublisher, type KvEventPublisher } from '../kv-events/index.ts';
import { createWorkerMetrics } from '../metrics/index.ts';
import { createKvPeers, createWorkerService, type KvEventEndpointInfo, type WorkerAddress } from '../server/index.ts';
import { advertisedHost, hostPort, zmqBindEndpoint, zmqPort } from './addresses.ts';
import { engineFactory } from './engine-factory.ts';

/** Where a running worker can be reached, advertised (connectable) addresses. */
export interface WorkerAddresses {
  readonly engineId: string;
  readonly role: Config['worker']['role'];
  /** tandem.v1.WorkerService, `host:port`. */
  readonly grpc: string;
  /** The vLLM-compatible HTTP API, `http://host:port`. */
  readonly http: string;
  /** ZMQ PUB of KV events and the replay ROUTER (`tcp://host:port`); null with events off. */
  readonly kvEvents: string | null;
  readonly replay: string | null;
  readonly topic: string;
  /** The TCP block server of an engine that moves KV bytes (reference), else 0. */
  readonly kvTransferPort: number;
}

export interface RunningWorker {
  readonly engine: Engine;
  readonly addresses: WorkerAddresses;
  /** Stops accepting, cancels running requests, closes every socket. Idempotent. */
  close(): Promise<void>;
}

export interface StartWorkerOptions {
  readonly config: Config['worker'];
  readonly logger: Logger;
  readonly clock?: Clock;
}

/**
 * A worker process's servers around one engine: KV events (ZMQ PUB + replay ROUTER), gRPC
 * WorkerService, and the vLLM-compatible HTTP facade, all bound on `config.host` (port 0 picks a
 * free one). Whatever was opened is closed again if a later step fails.
 */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const { config, logger } = options;
  const clock = options.clock ?? realClock;
  const host = advertisedHost(config.host, config.advertise_host);
  const engineId = `${config.engine}-${config.gpu}-${config.model}-${randomUUID().slice(0, 8)}`;
  const cleanups: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: error }, 'error while closing the worker');
      }
    }
  };

  // About a second of native loading (more on a busy machine): overlap it with the binds.
  const tokenizerLoading = loadModelTokenizer(config.tokenizer).catch((error: unknown) => {
    throw new TandemError('invalid_request', `worker.tokenizer: ${(error as Error).message}`, {
      param: 'worker.tokenizer',
      cause: error,
    });
  });
  tokenizerLoading.catch(() => undefined);
  try {
    const { engine, kvTransfer } = await engineFactory(config.engine)({ config, clock, logger, engineId });
    cleanups.push(() => engine.close());
    const kvTransferPort = kvTransfer.transport === 'tcp' ? kvTransfer.port : 0;
    const modelNames = [config.served_model_name ?? engine.info.servedModelName, engine.info.model].filter(
      (name, i, all) => all.indexOf(name) === i,
    );
    const metrics = createWorkerMetrics({
      info: engine.info,
      status: () => engine.status(),
      modelName: modelNames[0]!,
      clock,
    });

    let publisher: KvEventPublisher | undefined;
    const kvEndpoints: KvEventEndpointInfo[] = [];
    if (config.enable_kv_cache_events) {
      // vLLM's offset_endpoint_port: data-parallel rank r publishes on the configured ports + r.
      const rankPort = (port: number) => (port === 0 ? 0 : port + engine.info.dataParallelRank);
      const pubEndpoint = zmqBindEndpoint(config.host, rankPort(config.kv_events_port));
      const replayEndpoint = zmqBindEndpoint(config.host, rankPort(config.replay_port));
      publisher = await bind('KV events', `${pubEndpoint} and ${replayEndpoint}`, () =>
        createKvEventPublisher({
          endpoint: pubEndpoint,
          replayEndpoint,
          topic: config.kv_events_topic,
          bufferSteps: config.kv_events_buffer_steps,
          shape: config.kv_event_shape,
          clock,
          logger,
        }),
      );
      const pub = publisher;
      cleanups.push(() => pub.close());
      const unsubscribe = engine.onKvEvents((batch) => {
        if (batch.events.length > 0) pub.publish(batch.events, batch.dataParallelRank);
      });
      cleanups.push(unsubscribe);
      kvEndpoints.push({
        endpoint: `tcp://${hostPort(host, zmqPort(pub.endpoint))}`,
        replayEndpoint: pub.replayEndpoint ? `tcp://${hostPort(host, zmqPort(pub.replayEndpoint))}` : '',
        topic: config.kv_events_topic,
        dpRank: engine.info.dataParallelRank,
      });
    }

    const peers = createKvPeers({ engine, timeoutMs: config.peer_timeout_ms, logger });
    cleanups.push(() => peers.close());
    let self: WorkerAddress = { host, port: 0 };
    const grpc = createGrpcServer();
    grpc.add(
      WorkerService,
      createWorkerService({
        engine,
        role: config.role,
        metrics,
        peers,
        self: () => self,
        kvEventEndpoints: () => kvEndpoints,
        modelNames,
        defaultLoadFailurePolicy: config.kv_load_failure_policy,
        kvTransferPort,
        logger,
      }),
    );
    const grpcPort = await bind('gRPC', hostPort(config.host, config.grpc_port), () =>
      grpc.listen(config.host, config.grpc_port),
    );
    self = { host, port: grpcPort };
    cleanups.push(() => grpc.close(config.shutdown_grace_ms));

    const modelTokenizer = await tokenizerLoading;
    const http = createHttpFacade({
      engine,
      peers,
      modelTokenizer,
      metrics,
      modelNames,
      self: () => self,
      loadFailurePolicy: config.kv_load_failure_policy,
      pullsTcp: kvTransfer.transport === 'tcp',
      holdTimeoutMs: config.kv_hold_timeout_s * 1000,
      clock,
      logger,
      tokenizer: modelTokenizer.tokenizer,
      maxBodyBytes: config.http_max_body_bytes,
    });
    await bind('HTTP', hostPort(config.host, config.http_port), () =>
      http.app.listen({ host: config.host, port: config.http_port }),
    );
    cleanups.push(() => http.close());
    const httpPort = (http.app.server.address() as { port: number }).port;

    const addresses: WorkerAddresses = {
      engineId: engine.info.engineId,
      role: config.role,
      grpc: hostPort(host, grpcPort),
      http: `http://${hostPort(host, httpPort)}`,
      kvEvents: kvEndpoints[0]?.endpoint ?? null,
      replay: kvEndpoints[0]?.replayEndpoint || null,
      topic: config.kv_events_topic,
      kvTransferPort,
    };
    let closing: Promise<void> | undefined;
    return {
      engine,
      addresses,
      close: () => (closing ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Runs a bind, turning "address in use" and the like into one clear TandemError. */
async function bind<T>(what: string, where: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new TandemError('unavailable', `cannot bind ${what} on ${where}: ${reason}`, { cause: error });
  }
}
