import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig, type Config } from '../../common/config/index.ts';
import { createLineWritable } from '../../common/line-splitter.ts';
import { createLogger } from '../../common/log.ts';
import type { BackendSpec, WorkerBackend } from '../../orchestrator/backends/index.ts';
import type { SubscriberFactory } from '../../orchestrator/discovery/index.ts';
import { createOrchestrator, type Orchestrator } from '../../orchestrator/server/index.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { Cleanup } from './cleanups.ts';
import { startFakeGrpcWorker, type FakeGrpcWorker, type FakeWorkerOptions } from './fake-grpc-worker.ts';

/** Reading a series off /metrics, for the tests that drive a harness. */
export { sample } from './metric-sample.ts';

/**
 * Starts a whole orchestrator (frontend, dispatcher, fleet, routing core) on a loopback port in
 * front of test workers, with fast health checks and a log that tests can read.
 *
 * The workers are in-process fakes (`startFakeGrpcWorker`) or real `tandem worker` processes
 * (worker-process.ts); `createBackend` wraps the real backends (backend-tap.ts) to record or
 * inject failures.
 */

export const MODEL = 'Qwen/Qwen3-8B';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface RunningOrchestrator {
  readonly orchestrator: Orchestrator;
  readonly url: string;
  readonly logs: LogLine[];
  readonly config: Readonly<Config>;
  /** Builds a config from `overrides` merged over this harness's defaults (for reloads). */
  configWith(overrides: Record<string, unknown>): Readonly<Config>;
  close(): Promise<void>;
}

let sharedTokenizer: Promise<ModelTokenizer> | undefined;
export const tokenizer = () => (sharedTokenizer ??= loadModelTokenizer('qwen3'));

/** Config sections tests start from: fast health checks, the model name, a loopback port. */
export function testConfig(
  workers: readonly Record<string, unknown>[],
  overrides: Record<string, Record<string, unknown>> = {},
): Readonly<Config> {
  const { orchestrator = {}, routing = {}, ...rest } = overrides;
  const parsed = parseConfig({
    log: { level: 'debug', format: 'json' },
    orchestrator: {
      host: '127.0.0.1',
      port: 0,
      model: MODEL,
      health: { interval_s: 0.1, timeout_s: 1, failure_threshold: 2, success_threshold: 2 },
      shutdown_grace_s: 5,
      ...orchestrator,
      // No load shedding unless a test asks: a loaded CI machine's event loop must not turn requests away.
      admission: { shed_event_loop_lag_ms: 0, ...(orchestrator.admission as Record<string, unknown> | undefined) },
    },
    routing: { policy: 'kv', ...routing },
    workers,
    ...rest,
  });
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

export function workerEntries(workers: readonly FakeGrpcWorker[], prefix = 'w'): Record<string, unknown>[] {
  return workers.map((w, i) => ({ name: `${prefix}${i}`, address: w.address }));
}

export async function startOrchestrator(
  config: Readonly<Config>,
  options: {
    queuePollMs?: number;
    createSubscriber?: SubscriberFactory;
    createBackend?: (kind: string, spec: BackendSpec) => WorkerBackend;
  } = {},
): Promise<RunningOrchestrator> {
  const logs: LogLine[] = [];
  const destination = createLineWritable((line) => logs.push(JSON.parse(line) as LogLine));
  const logger = createLogger({ name: 'orchestrator', level: 'debug', format: 'json', destination });
  const orchestrator = await createOrchestrator(config, {
    logger,
    tokenizer: await tokenizer(),
    ...(options.queuePollMs === undefined ? {} : { queuePollMs: options.queuePollMs }),
    ...(options.createSubscriber ? { createSubscriber: options.createSubscriber } : {}),
    ...(options.createBackend ? { createBackend: options.createBackend } : {}),
  });
  const { url } = await orchestrator.listen();
  return {
    orchestrator,
    url,
    logs,
    config,
    configWith: (overrides) => {
      const parsed = parseConfig({ ...structuredClone(config), ...overrides });
      if (!parsed.ok) throw parsed.error;
      return parsed.value;
    },
    close: () => orchestrator.shutdown(0),
  };
}

export async function startWorkers(n: number, options: FakeWorkerOptions = {}): Promise<FakeGrpcWorker[]> {
  return Promise.all(Array.from({ length: n }, () => startFakeGrpcWorker(options)));
}

/**
 * `n` fake gRPC workers (named w0, w1, ... in the config) and an orchestrator in front of them.
 * Their closes go onto `cleanups` (cleanups.ts), which run last-in first-out (the orchestrator
 * closes before its workers).
 */
export async function startFakeFleet(
  cleanups: Cleanup[],
  n: number,
  overrides: Parameters<typeof testConfig>[1] = {},
  workerOptions: FakeWorkerOptions = {},
  orchestratorOptions: Parameters<typeof startOrchestrator>[1] = {},
): Promise<{ workers: FakeGrpcWorker[]; running: RunningOrchestrator }> {
  const workers = await startWorkers(n, workerOptions);
  cleanups.push(async () => {
    for (const w of workers) await w.close();
  });
  const running = await startOrchestrator(testConfig(workerEntries(workers), overrides), orchestratorOptions);
  cleanups.push(() => running.close());
  return { workers, running };
}

/** The log lines of one request id with the given message. */
export function requestLogs(running: RunningOrchestrator, requestId: string, msg = 'request served'): LogLine[] {
  return running.logs.filter((line) => line.requestId === requestId && line.msg === msg);
}

/** Polls `condition` every 10 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The state of a worker in /debug/workers terms. */
export function workerState(running: RunningOrchestrator, name: string): string | undefined {
  return running.orchestrator.fleet.snapshot().find((w) => w.name === name)?.state;
}

/**
 * Waits until every named worker is healthy and its KV-event subscribers are connected. A
 * batch published before a SUB socket has joined is lost to it (ZMQ's "slow joiner") and only
 * recovered, by replay, when the worker publishes again: tests that expect one request's events
 * to be indexed must not send it earlier.
 */
export async function allHealthy(running: RunningOrchestrator, names: readonly string[]): Promise<void> {
  const connected = (name: string) => {
    const worker = running.orchestrator.fleet.snapshot().find((w) => w.name === name);
    return (
      worker !== undefined &&
      (worker.ranks as { events: { connected: boolean } | null }[]).every(
        (r) => r.events === null || r.events.connected,
      )
    );
  };
  await waitUntil(`${names.join(', ')} healthy`, () =>
    names.every((n) => workerState(running, n) === 'healthy' && connected(n)),
  );
  // The subscription itself travels after the connection; give it a moment to reach the publisher.
  await sleep(50);
}

/**
 * POSTs `body` (a string as is, anything else as JSON) and returns status, headers, the body's
 * text and its parse (undefined when it is not JSON).
 */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** POSTs a completion with token-free text and returns status, headers and JSON (the raw text when it is not JSON). */
export async function complete(
  url: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const reply = await postJson(`${url}/v1/completions`, { model: MODEL, ...body }, headers);
  return { status: reply.status, headers: reply.headers, json: reply.json === undefined ? reply.text : reply.json };
}
