import { createMinHeap } from './min-heap.ts';
import type { BenchRequest, RequestSource } from './types.ts';

export interface DrainOptions {
  /** Stop after taking this many requests. */
  readonly maxRequests: number;
  /** How long a request takes once due, ms (default: 1 s). */
  readonly serviceMs?: (request: BenchRequest) => number;
  /** Output tokens it reports (default: its max_tokens). */
  readonly outputTokens?: (request: BenchRequest) => number;
  /** Whether it succeeds (default: always). */
  readonly ok?: (request: BenchRequest) => boolean;
  /** Called for each finished request, in completion order. */
  readonly onFinished?: (finished: DrainedRequest) => void;
  /** Keep and return the finished requests (default true); false lets prompts be collected. */
  readonly keep?: boolean;
}

export interface DrainedRequest {
  readonly request: BenchRequest;
  /** 0 for the first request taken, 1 for the next... */
  readonly takeIndex: number;
  readonly completedMs: number;
  readonly ok: boolean;
  readonly outputTokens: number;
}

/**
 * Runs a stream on virtual time against a fixed service-time model, with infinite capacity:
 * each request starts when due and completes `serviceMs` later, and completions are reported in
 * time order (before an arrival at the same instant), as a driver would. Returns the finished
 * requests in take order. For tests and for
 * `tandem bench workloads --sample`; the cluster simulator is the real model.
 */
export function drainSource(source: RequestSource, options: DrainOptions): DrainedRequest[] {
  const serviceMs = options.serviceMs ?? (() => 1000);
  const outputTokens = options.outputTokens ?? ((request) => request.maxOutputTokens);
  const succeeds = options.ok ?? (() => true);
  const running = createMinHeap<DrainedRequest>(
    (a, b) => a.completedMs < b.completedMs || (a.completedMs === b.completedMs && a.takeIndex < b.takeIndex),
  );
  const done: DrainedRequest[] = [];
  let taken = 0;
  for (;;) {
    const due = taken < options.maxRequests ? source.nextArrivalMs() : undefined;
    const finishing = running.peek();
    if (finishing && (due === undefined || finishing.completedMs <= due)) {
      running.pop();
      const result = finishing;
      source.complete(result.request.id, {
        atMs: result.completedMs,
        ok: result.ok,
        outputTokens: result.ok ? result.outputTokens : 0,
      });
      options.onFinished?.(result);
      if (options.keep !== false) done.push(result);
      continue;
    }
    if (due === undefined) break;
    const request = source.take()!;
    const ok = succeeds(request);
    running.push({
      request,
      completedMs: request.arrivalMs + serviceMs(request),
      ok,
      outputTokens: ok ? outputTokens(request) : 0,
      takeIndex: taken++,
    });
  }
  return done.sort((a, b) => a.takeIndex - b.takeIndex);
}
