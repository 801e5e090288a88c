/**
 * Shared pieces of the frontend tests: a fake ServingCore that records what it is asked and
 * whether its signal aborted, and a frontend listening on a loopback port.
 */
import type { FastifyInstance } from 'fastify';
import { createRealClock, type Clock } from '../common/clock.ts';
import { parseConfig } from '../common/config/index.ts';
import { silentLogger } from '../common/log.ts';
import { createFrontend, type OrchestratorConfig } from '../orchestrator/frontend/index.ts';
import { createOrchestratorMetrics, type OrchestratorMetrics } from '../orchestrator/metrics/index.ts';
import type { GenerationEvent, Readiness, ServingCore, TokenizedRequest, Usage } from '../orchestrator/serving.ts';
import type { ModelTokenizer } from '../common/tokenizer/index.ts';
import { MODEL } from './fakes/orchestrator-harness.ts';

/** The served model every frontend test names, and the JSON POST: the orchestrator harness's. */
export { MODEL, postJson } from './fakes/orchestrator-harness.ts';

export interface CoreCall {
  readonly request: TokenizedRequest;
  readonly signal: AbortSignal;
}

export type Behaviour = (request: TokenizedRequest, signal: AbortSignal) => AsyncIterable<GenerationEvent>;

export interface FakeCore extends ServingCore {
  readonly calls: CoreCall[];
  /** What the next requests do (default: `reply(...)` of a short text). */
  behaviour: Behaviour;
  readiness_: Readiness;
  /** Resolves when the core has been called `n` times in total. */
  called(n: number): Promise<CoreCall>;
  /** Resolves when call `index`'s signal has aborted (rejects after 10 s). */
  abortedCall(index: number): Promise<void>;
}

export function createFakeCore(initial: Behaviour): FakeCore {
  const waiters: { n: number; resolve: (call: CoreCall) => void }[] = [];
  const core: FakeCore = {
    calls: [],
    behaviour: initial,
    readiness_: { ready: true, detail: '1 worker healthy' },
    models: () => [MODEL],
    generate(request, signal) {
      const call = { request, signal };
      core.calls.push(call);
      for (const waiter of waiters.filter((w) => w.n <= core.calls.length)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(call);
      }
      return core.behaviour(request, signal);
    },
    explain: (request) => ({
      policy: 'fake',
      chosen: 'w0',
      promptTokens: request.promptTokenIds.length,
      sessionKey: request.sessionKey ?? null,
    }),
    readiness: () => core.readiness_,
    workers: () => [{ name: 'w0', role: 'both', healthy: true }],
    called(n) {
      if (core.calls.length >= n) return Promise.resolve(core.calls[n - 1]!);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async abortedCall(index) {
      const call = await core.called(index + 1);
      if (call.signal.aborted) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`call ${index}'s signal never aborted`)), 10_000);
        call.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    },
  };
  return core;
}

/**
 * A behaviour that streams `tokenIds` in events of `perEvent` tokens, then `done` with the
 * given usage (prompt tokens default to the request's). With an abort it ends with
 * `done: abort` (as a well-behaved core does) unless `throwOnAbort`.
 */
export function reply(
  tokenIds: readonly number[],
  options: {
    perEvent?: number;
    cachedPromptTokens?: number;
    finishReason?: 'stop' | 'length';
    delayMs?: number;
    mode?: 'aggregated' | 'disaggregated';
    throwOnAbort?: boolean;
  } = {},
): Behaviour {
  return async function* (request, signal) {
    const perEvent = options.perEvent ?? 1;
    let sent = 0;
    const usage = (): Usage => ({
      promptTokens: request.promptTokenIds.length,
      cachedPromptTokens: options.cachedPromptTokens ?? 0,
      completionTokens: sent,
    });
    for (let i = 0; i < tokenIds.length; i += perEvent) {
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      if (signal.aborted) {
        if (options.throwOnAbort) throw signal.reason;
        yield { kind: 'done', finishReason: 'abort', usage: usage(), ...(options.mode ? { mode: options.mode } : {}) };
        return;
      }
      const ids = tokenIds.slice(i, i + perEvent);
      sent += ids.length;
      yield { kind: 'tokens', tokenIds: ids };
    }
    yield {
      kind: 'done',
      finishReason: options.finishReason ?? 'stop',
      usage: usage(),
      ...(options.mode ? { mode: options.mode } : {}),
    };
  };
}

/** A behaviour that yields nothing until its signal aborts, then throws the reason. */
export const hang: Behaviour = async function* (_request, signal) {
  await new Promise<void>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  yield* [];
};

export interface RunningFrontend {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly metrics: OrchestratorMetrics;
  close(): Promise<void>;
}

export function frontendConfig(overrides: Record<string, unknown> = {}): OrchestratorConfig {
  // No load shedding unless a test asks: a loaded CI machine's event loop must not turn requests away.
  const admission = { shed_event_loop_lag_ms: 0, ...(overrides.admission as Record<string, unknown> | undefined) };
  const parsed = parseConfig({ orchestrator: { model: MODEL, ...overrides, admission } });
  if (!parsed.ok) throw parsed.error;
  return parsed.value.orchestrator;
}

/** Starts a frontend on 127.0.0.1 at a free port. */
export async function startFrontend(
  core: ServingCore,
  tokenizer: ModelTokenizer,
  overrides: Record<string, unknown> = {},
  clock: Clock = createRealClock(),
): Promise<RunningFrontend> {
  const metrics = createOrchestratorMetrics();
  const app = createFrontend({
    core,
    tokenizer,
    config: frontendConfig(overrides),
    logger: silentLogger,
    metrics,
    clock,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const close = async () => {
    const closing = app.close();
    // A client may hold an idle socket that never carried a request (undici does after an
    // abort); the server would wait out its keep-alive. Tests are over: drop every socket.
    app.server.closeAllConnections();
    await closing;
  };
  return { app, url: `http://127.0.0.1:${address.port}`, metrics, close };
}

/** The JSON payloads of an SSE body, in order; `[DONE]` as the string. */
export function sseEvents(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const data = block.replace(/^data: /, '');
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}
