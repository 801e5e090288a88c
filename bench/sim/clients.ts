import type { Clock } from '../../common/clock.ts';
import { isTandemError } from '../../common/errors.ts';
import type { ServingCore, TokenizedRequest } from '../../orchestrator/serving.ts';
import type { RunRecorder } from '../stats/index.ts';
import type { BenchRequest, RequestSource } from '../workloads/index.ts';
import type { IntervalStats } from './interval-stats.ts';

/**
 * The simulated clients: each request of the workload goes to the real dispatcher
 * (orchestrator/dispatch, the ServingCore the frontend runs) as the frontend would hand it over
 * (token ids, sampling, deadline `timeoutMs` after arrival), and its events are timed as a
 * client sees them: every token `tokenMs` after the dispatcher yields it. Every request ends
 * exactly once, completed or failed (`timeout`, `rate_limited` and `unavailable` from the
 * admission queue, `http_400`, an error code...), and is reported to the recorder, its class
 * recorder, the planner's interval statistics and the workload source.
 */
export interface Clients {
  /** Starts a request at the clock's now (its arrival time). */
  admit(request: BenchRequest): void;
  /** Requests admitted and not yet ended. */
  readonly inFlight: number;
  /** Requests served disaggregated so far (the dispatcher's final event says so). */
  readonly disaggregated: number;
  /** The summary of each request class (the id without its serial: `short`, `long`, `chat`, ...), when there are several. */
  classSummaries(
    finish: Parameters<RunRecorder['finish']>[0],
  ): Record<string, ReturnType<RunRecorder['finish']>> | null;
}

export interface ClientsOptions {
  readonly clock: Clock;
  readonly serving: ServingCore;
  readonly recorder: RunRecorder;
  /** Makes the recorder of one request class (same SLO and block size as `recorder`). */
  readonly classRecorder: () => RunRecorder;
  readonly source: RequestSource;
  readonly intervals: IntervalStats;
  /** Worker to client, per streamed event, ms. */
  readonly tokenMs: number;
  /** orchestrator.request_timeout_s, ms. */
  readonly timeoutMs: number;
  /** The served model name requests carry. */
  readonly model: string;
}

/**
 * Workloads hand out shared Uint32Arrays (a user's repeated prompt is one array); the dispatcher
 * and engines take number arrays. Converted once per array; the engines copy what they keep.
 */
const asNumbers = new WeakMap<Uint32Array, number[]>();
function promptOf(request: BenchRequest): number[] {
  let prompt = asNumbers.get(request.promptTokenIds);
  if (!prompt) {
    // An indexed copy: Array.from walks a typed array through its iterator, several times slower.
    const ids = request.promptTokenIds;
    prompt = new Array<number>(ids.length);
    for (let i = 0; i < ids.length; i++) prompt[i] = ids[i]!;
    asNumbers.set(ids, prompt);
  }
  return prompt;
}

const failureOf = (error: unknown): string => {
  if (!isTandemError(error)) return 'internal';
  if (error.code === 'deadline_exceeded') return 'timeout';
  return error.httpStatus === 400 ? 'http_400' : error.code;
};

export function createClients(options: ClientsOptions): Clients {
  const { clock, serving, recorder, source, intervals, tokenMs } = options;
  let inFlight = 0;
  let disaggregated = 0;
  const classes = new Map<string, RunRecorder>();
  const classRecorderOf = (request: BenchRequest): RunRecorder => {
    const name = request.id.replace(/\d+$/, '') || 'request';
    let found = classes.get(name);
    if (!found) classes.set(name, (found = options.classRecorder()));
    return found;
  };

  async function run(r: BenchRequest): Promise<void> {
    const classRecorder = classRecorderOf(r);
    const request: TokenizedRequest = {
      requestId: r.id,
      model: options.model,
      promptTokenIds: promptOf(r),
      sampling: {
        maxTokens: r.maxOutputTokens,
        temperature: 0,
        topP: 1,
        seed: undefined,
        stopTokenIds: [],
        ignoreEos: true,
        minTokens: 0,
      },
      sessionKey: r.sessionKey,
      deadlineUnixMs: r.arrivalMs + options.timeoutMs,
    };
    let firstTokenMs: number | undefined;
    let lastTokenMs: number | undefined;
    let outputTokens = 0;
    let cachedPromptTokens: number | undefined;
    let ok = false;
    let failure: string | undefined;
    try {
      for await (const event of serving.generate(request, new AbortController().signal)) {
        if (event.kind === 'tokens') {
          const count = event.tokenIds.length;
          if (count === 0) continue;
          const at = clock.now() + tokenMs;
          if (firstTokenMs === undefined) {
            firstTokenMs = at;
            intervals.firstToken(r, at - r.arrivalMs);
          } else {
            recorder.recordItl(at - lastTokenMs!, 1);
            classRecorder.recordItl(at - lastTokenMs!, 1);
            if (count > 1) {
              recorder.recordItl(0, count - 1);
              classRecorder.recordItl(0, count - 1);
            }
          }
          lastTokenMs = at;
          outputTokens += count;
        } else if (event.kind === 'done') {
          cachedPromptTokens = event.usage.cachedPromptTokens;
          if (event.mode === 'disaggregated') disaggregated++;
          ok = event.finishReason !== 'abort';
          if (!ok) failure = clock.now() >= request.deadlineUnixMs ? 'timeout' : 'cancelled';
        }
      }
    } catch (error) {
      ok = false;
      failure = failureOf(error);
    }
    inFlight--;
    const endMs = clock.now() + (ok ? tokenMs : 0);
    const outcome = {
      id: r.id,
      ok,
      failure: ok ? undefined : (failure ?? 'internal'),
      arrivalMs: r.arrivalMs,
      sentMs: r.arrivalMs,
      firstTokenMs,
      lastTokenMs,
      endMs,
      promptTokens: r.promptTokenIds.length,
      sharedPrefixTokens: r.sharedPrefixTokens,
      cachedPromptTokens,
      outputTokens,
    };
    recorder.record(outcome);
    classRecorder.record(outcome);
    intervals.completed(r, ok, outputTokens, cachedPromptTokens);
    source.complete(r.id, { atMs: endMs, ok, outputTokens: ok ? outputTokens : 0 });
  }

  return {
    get inFlight() {
      return inFlight;
    },
    get disaggregated() {
      return disaggregated;
    },
    classSummaries(finish) {
      if (classes.size < 2) return null;
      const out: Record<string, ReturnType<RunRecorder['finish']>> = {};
      for (const [name, rec] of [...classes].sort(([a], [b]) => a.localeCompare(b))) out[name] = rec.finish(finish);
      return out;
    },
    admit(request) {
      inFlight++;
      intervals.arrival(request);
      void run(request);
    },
  };
}
