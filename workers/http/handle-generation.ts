import type { ServerResponse } from 'node:http';
import type { GenerationCall } from '../../common/openai/http-app.ts';
import { watchRequestEnd } from '../../common/openai/request-end.ts';
import { type TandemError, toOpenAIErrorBody, toTandemError } from '../../common/errors.ts';
import type { ModelTokenizer } from '../../common/tokenizer/index.ts';
import type { WorkerMetrics } from '../metrics/index.ts';
import { parseChat, parseCompletion } from './parse-request.ts';
import { prepareEngineRequest, type EngineRequest } from './prepare-request.ts';
import { runRequest, type RunContext, type RunEvent } from './run-request.ts';
import {
  chunkBody,
  completeBody,
  createSseWriter,
  responseIdentity,
  runningUsage,
  usageChunkBody,
  type ResponseIdentity,
} from '../../common/openai/index.ts';

/**
 * POST /v1/completions and /v1/chat/completions. The reply is written by hand (hijacked) so a
 * client that disconnects at any point aborts the engine request and nothing is written after.
 * Errors before the first byte are vLLM's JSON errors with their status; after it, an SSE error
 * event, then [DONE].
 */
export interface FacadeContext extends RunContext {
  readonly modelTokenizer: ModelTokenizer;
  readonly metrics: WorkerMetrics;
  /** The served model name first, then any other name requests may use. */
  readonly modelNames: readonly string[];
  /** Aborted when the server shuts down: every running request ends. */
  readonly shutdown: AbortSignal;
  /** A unique engine request id for a request whose id (X-Request-Id or generated) is `base`. */
  readonly engineRequestId: (base: string) => string;
}

export async function handleFacadeRequest(context: FacadeContext, call: GenerationCall): Promise<void> {
  const { endpoint, request, res, arrivalMs } = call;
  const end = watchRequestEnd(res, context.shutdown);
  const headers = { 'x-request-id': request.id };
  try {
    const parsed = endpoint === 'chat' ? parseChat(request.body) : parseCompletion(request.body);
    if (!parsed.ok) return writeError(res, headers, parsed.error);
    const prepared = await prepareEngineRequest(parsed.value, {
      tokenizer: context.modelTokenizer,
      info: context.engine.info,
      modelNames: context.modelNames,
    });
    if (!prepared.ok) return writeError(res, headers, prepared.error);
    const who = responseIdentity(endpoint, request.id, Math.floor(context.clock.now() / 1000), prepared.value.model);
    const observer = context.metrics.startRequest(arrivalMs);
    const events = runRequest(prepared.value, context.engineRequestId(request.id), context, observer, end.signal);
    const reply = { res, headers, who, prepared: prepared.value, events, context };
    if (prepared.value.parsed.stream) await respondStreaming(reply);
    else await respondWhole(reply);
  } catch (error) {
    if (end.clientGone()) return;
    const failure = toTandemError(error);
    if (failure.httpStatus >= 500) context.logger.error({ requestId: request.id, err: error }, 'request failed');
    writeError(res, headers, failure);
  } finally {
    end.dispose();
  }
}

/** One request's answer in the making: where it goes, who it answers as, and the engine's events for it. */
interface Reply {
  readonly res: ServerResponse;
  readonly headers: Record<string, string>;
  readonly who: ResponseIdentity;
  readonly prepared: EngineRequest;
  readonly events: AsyncIterable<RunEvent>;
  readonly context: FacadeContext;
}

async function respondWhole({ res, headers, who, prepared, events, context }: Reply): Promise<void> {
  const { parsed } = prepared;
  let text = '';
  const tokenIds: number[] = [];
  for await (const event of events) {
    text += event.text;
    tokenIds.push(...event.tokenIds);
    if (event.kind !== 'finish') continue;
    const body = completeBody(who, {
      text,
      finishReason: event.finishReason,
      stopReason: event.stopReason,
      usage: event.usage,
      tokenIds: parsed.returnTokenIds ? tokenIds : undefined,
      promptTokenIds: parsed.returnTokenIds ? prepared.promptTokenIds : undefined,
      kvTransferParams: event.kvTransferParams,
    });
    if (!writeJson(res, 200, headers, body)) releaseUndelivered(event, context);
  }
}

async function respondStreaming({ res, headers, who, prepared, events, context }: Reply): Promise<void> {
  const { parsed } = prepared;
  const sse = createSseWriter(res, headers);
  const promptTokens = prepared.promptTokenIds.length;
  const usage = (completionTokens: number) =>
    !parsed.includeUsage ? {} : { usage: parsed.continuousUsage ? runningUsage(promptTokens, completionTokens) : null };
  const ids = (tokenIds: readonly number[]) => (parsed.returnTokenIds ? { tokenIds } : {});
  let promptIdsSent = !parsed.returnTokenIds;
  const promptIds = () => {
    if (promptIdsSent) return {};
    promptIdsSent = true;
    return { promptTokenIds: prepared.promptTokenIds };
  };
  let completionTokens = 0;
  try {
    for await (const event of events) {
      if (!sse.started && who.kind === 'chat')
        await sse.send(chunkBody(who, { text: '', role: 'assistant', ...promptIds(), ...usage(0) }));
      if (event.kind === 'delta') {
        completionTokens = event.completionTokens;
        await sse.send(
          chunkBody(who, { text: event.text, ...ids(event.tokenIds), ...promptIds(), ...usage(completionTokens) }),
        );
        continue;
      }
      if (res.destroyed) releaseUndelivered(event, context);
      await sse.send(
        chunkBody(who, {
          text: event.text,
          ...ids(event.tokenIds),
          ...promptIds(),
          finishReason: event.finishReason,
          stopReason: event.stopReason,
          ...usage(event.usage.completionTokens),
          // Not in vLLM's streams (its proxies prefill without streaming); here so a streamed prefill still hands off.
          kvTransferParams: event.kvTransferParams,
        }),
      );
      if (parsed.includeUsage) await sse.send(usageChunkBody(who, event.usage));
      await sse.done();
    }
  } catch (error) {
    if (!sse.started || res.destroyed) throw error;
    const failure = toTandemError(error);
    await sse.send(toOpenAIErrorBody(failure));
    await sse.done();
  }
}

/** A prefill whose handoff never reached the client holds blocks nobody will pull: free them now. */
function releaseUndelivered(event: RunEvent, context: FacadeContext): void {
  if (event.kind === 'finish' && event.heldHandoffId !== undefined) context.engine.release(event.heldHandoffId);
}

/** Writes a whole JSON response; false when the client is already gone. */
function writeJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): boolean {
  if (res.destroyed || res.headersSent) return false;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
  return true;
}

function writeError(res: ServerResponse, headers: Record<string, string>, error: TandemError): void {
  writeJson(res, error.httpStatus, headers, toOpenAIErrorBody(error));
}
