import type { ServerResponse } from 'node:http';
import type { GenerationCall } from '../../common/openai/http-app.ts';
import { watchRequestEnd } from '../../common/openai/request-end.ts';
import type { Clock } from '../../common/clock.ts';
import { TandemError, toOpenAIErrorBody, toTandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { OrchestratorMetrics, RequestOutcome } from '../metrics/index.ts';
import { failedRunOf, type FailedRun, type ServingCore } from '../serving.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { AdmissionQueue } from './admission.ts';
import type { FailureLog } from './failure-log.ts';
import { errorHeaders, toHttpError } from './http-errors.ts';
import {
  chunkBody,
  completeBody,
  createSseWriter,
  createTextChunkEvent,
  sseEvent,
  responseIdentity,
  runningUsage,
  usageChunkBody,
  type ResponseIdentity,
  type TokenLogprobText,
} from '../../common/openai/index.ts';
import type { RequestParsers } from './parse-request.ts';
import { checkRequest, tokenizeRequest, type PreparedRequest } from './prepare-request.ts';
import { createRequestObserver, type RequestObserver } from './request-observer.ts';
import { runGeneration } from './run-generation.ts';

/**
 * POST /v1/completions and /v1/chat/completions: parse, check what costs nothing to check (model,
 * template, a prompt too long by its length), admit, tokenize, run, and answer with
 * JSON or SSE. The reply is hijacked (written by hand) so that a client that disconnects at any
 * point aborts the core's signal and nothing is written after. Errors before the first byte are
 * plain HTTP errors with their status; after it, an SSE error event then [DONE].
 */

export interface GenerationContext {
  readonly core: ServingCore;
  readonly tokenizer: ModelTokenizer;
  readonly parsers: RequestParsers;
  readonly admission: AdmissionQueue;
  readonly metrics: OrchestratorMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly maxModelLen: number;
  readonly requestTimeoutMs: number;
  readonly sessionHeader: string;
  /** How failures and rejected requests are logged (rate limited, stacks only for faults). */
  readonly failures: FailureLog;
  /** Aborted when the server shuts down; every running request aborts with it. */
  readonly shutdown: AbortSignal;
}

export async function handleGeneration(context: GenerationContext, call: GenerationCall): Promise<void> {
  const { endpoint: kind, request, res, arrivalMs } = call;
  const requestId = request.id;
  const observer = createRequestObserver(context.metrics, context.clock, arrivalMs, {
    logger: context.logger,
    requestId,
    admit: context.failures.requestLine,
  });
  const end = watchRequestEnd(res, context.shutdown, 1);
  const cancelTimeout = context.clock.setTimer(context.requestTimeoutMs, () =>
    end.abort(timeoutError(context.requestTimeoutMs)),
  );
  let release: (() => void) | undefined;

  try {
    const parsed = context.parsers[kind](request.body);
    if (!parsed.ok) return fail(parsed.error, 'rejected');
    const header = request.headers[context.sessionHeader];
    const prepare = {
      tokenizer: context.tokenizer,
      maxModelLen: context.maxModelLen,
      models: context.core.models(),
      requestId,
      sessionHeader: typeof header === 'string' && header !== '' ? header : undefined,
      deadlineUnixMs: arrivalMs + context.requestTimeoutMs,
    };
    // Bounds and admission before tokenizing: a prompt too long by its length, or an arrival
    // the core would refuse for capacity, costs no tokenizer work.
    const checked = checkRequest(parsed.value, prepare);
    if (!checked.ok) return fail(checked.error, 'rejected');
    const refused = context.core.refusal?.();
    if (refused) return fail(refused, 'rejected');
    try {
      release = await context.admission.acquire(end.signal);
    } catch (error) {
      return fail(toTandemError(error), 'rejected');
    }
    const prepared = await tokenizeRequest(checked.value, prepare);
    if (!prepared.ok) return fail(prepared.error, 'rejected');
    const who = responseIdentity(kind, requestId, Math.floor(context.clock.now() / 1000), prepared.value.options.model);
    const run = { prepared: prepared.value, who, observer, signal: end.signal };
    if (prepared.value.options.stream) await respondStreaming(run, res, context, requestId);
    else await respondWhole(run, res, context, requestId);
  } catch (error) {
    const failure = toHttpError(error);
    // The core refusing for lack of capacity is a rejection, not a failure of the request.
    fail(
      failure,
      failure.code === 'rate_limited' || failure.code === 'unavailable' ? 'rejected' : 'error',
      failedRunOf(error),
    );
  } finally {
    release?.();
    cancelTimeout();
    end.dispose();
  }

  /** `ran`: where the request ran before it failed, when the core said (its log line names it). */
  function fail(failure: TandemError, outcome: RequestOutcome, ran?: FailedRun): void {
    const error = oneTimeout(failure, context.requestTimeoutMs);
    if (end.clientGone()) {
      observer.finish('cancelled', ran?.mode ?? 'none', undefined, ran?.route);
      return;
    }
    observer.finish(error.code === 'cancelled' ? 'cancelled' : outcome, ran?.mode ?? 'none', undefined, ran?.route);
    context.failures.failed(requestId, error);
    writeJson(res, error.httpStatus, { ...errorHeaders(error), 'x-request-id': requestId }, toOpenAIErrorBody(error));
  }
}

interface Run {
  readonly prepared: PreparedRequest;
  readonly who: ResponseIdentity;
  readonly observer: RequestObserver;
  readonly signal: AbortSignal;
}

/** The request run on this front door's core, as text events (run-generation.ts). */
const generate = (run: Run, context: GenerationContext) =>
  runGeneration({ core: context.core, tokenizer: context.tokenizer.tokenizer, clock: context.clock, ...run });

async function respondWhole(
  run: Run,
  res: ServerResponse,
  context: GenerationContext,
  requestId: string,
): Promise<void> {
  let text = '';
  const logprobs: TokenLogprobText[] | undefined =
    run.prepared.request.sampling.logprobs === undefined ? undefined : [];
  /** An HTTP engine's own body, passed on as it wrote it. */
  let passed: string | undefined;
  for await (const event of generate(run, context)) {
    if (event.kind === 'output') {
      passed = (passed ?? '') + event.data.join('');
      continue;
    }
    text += event.text;
    if (event.logprobs) logprobs?.push(...event.logprobs);
    if (event.kind === 'finish') {
      run.observer.finish('success', event.mode, event.usage, event.route);
      if (passed !== undefined) writeRawJson(res, 200, { 'x-request-id': requestId }, passed);
      else
        writeJson(
          res,
          200,
          { 'x-request-id': requestId },
          completeBody(run.who, {
            text,
            finishReason: event.finishReason,
            stopReason: event.stopReason,
            usage: event.usage,
            logprobs,
          }),
        );
    }
  }
}

async function respondStreaming(
  run: Run,
  res: ServerResponse,
  context: GenerationContext,
  requestId: string,
): Promise<void> {
  const { options, request } = run.prepared;
  const sse = createSseWriter(res, { 'x-request-id': requestId });
  const promptTokens = request.promptTokenIds.length;
  const usageField = (completionTokens: number) =>
    options.continuousUsage && options.includeUsage
      ? runningUsage(promptTokens, completionTokens)
      : options.includeUsage
        ? null
        : undefined;
  const withUsage = (completionTokens: number) => {
    const usage = usageField(completionTokens);
    return usage === undefined ? {} : { usage };
  };
  const textEvent = createTextChunkEvent(run.who);
  let completionTokens = 0;
  /** Characters of the choice's text sent so far (completions' logprobs text_offset). */
  let textOffset = 0;
  /** An HTTP engine streams its own chunks: they pass as they are, and it wrote its own role and finish chunks. */
  let passing = false;
  try {
    for await (const event of generate(run, context)) {
      // Each step's events leave in one write to the client's socket (a syscall each, the
      // largest cost per event): an engine's batch, the role chunk with the first text, and the
      // finish chunk, usage and [DONE] with the end of the body (sse.done).
      if (event.kind === 'output') {
        passing = true;
        let events = '';
        for (const data of event.data) events += `data: ${data}\n\n`;
        const backpressure = sse.write(events);
        if (backpressure) await backpressure;
        continue;
      }
      if (passing && event.kind === 'finish') {
        await sse.done();
        run.observer.finish('success', event.mode, event.usage, event.route);
        continue;
      }
      const opening =
        !sse.started && run.who.kind === 'chat'
          ? sseEvent(chunkBody(run.who, { text: '', role: 'assistant', ...withUsage(0) }))
          : '';
      // With logprobs each chunk carries its tokens' (the fixed text template does not).
      const logprobs = event.logprobs === undefined ? undefined : { entries: event.logprobs, textOffset };
      textOffset += event.text.length;
      if (event.kind === 'text') {
        completionTokens = event.completionTokens;
        const backpressure = sse.write(
          opening +
            (logprobs === undefined
              ? textEvent(event.text, usageField(completionTokens))
              : sseEvent(chunkBody(run.who, { text: event.text, logprobs, ...withUsage(completionTokens) }))),
        );
        if (backpressure) await backpressure;
        continue;
      }
      const finish = sseEvent(
        chunkBody(run.who, {
          text: event.text,
          finishReason: event.finishReason,
          stopReason: event.stopReason,
          logprobs,
          ...withUsage(event.usage.completionTokens),
        }),
      );
      await sse.done(opening + finish + (options.includeUsage ? sseEvent(usageChunkBody(run.who, event.usage)) : ''));
      run.observer.finish('success', event.mode, event.usage, event.route);
    }
  } catch (error) {
    if (!sse.started || (run.signal.aborted && (run.signal.reason as TandemError | undefined)?.code === 'cancelled'))
      throw error;
    // After the first byte the status is sent: report the error in the stream, then end it.
    const failure = oneTimeout(toHttpError(error), context.requestTimeoutMs);
    const ran = failedRunOf(error);
    run.observer.finish('error', ran?.mode ?? 'none', undefined, ran?.route);
    context.failures.failed(requestId, failure);
    await sse.done(sseEvent(toOpenAIErrorBody(failure)));
  }
}

/**
 * One timeout, one message: the frontend's own timer, the dispatcher's deadline, a worker's
 * deadline (a prefill's error, or a stream it ended with finish "abort") all say the same.
 * Before the first byte a 504 with it; after, an SSE error event with it, then the end.
 */
function timeoutError(requestTimeoutMs: number): TandemError {
  return new TandemError('deadline_exceeded', `the request ran longer than ${requestTimeoutMs / 1000} s`);
}

function oneTimeout(error: TandemError, requestTimeoutMs: number): TandemError {
  return error.code === 'deadline_exceeded' ? timeoutError(requestTimeoutMs) : error;
}

function writeJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function writeRawJson(res: ServerResponse, status: number, headers: Record<string, string>, text: string): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
