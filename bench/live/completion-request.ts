import { request, type Dispatcher } from 'undici';
import type { Clock } from '../../common/clock.ts';
import type { BenchRequest } from '../workloads/types.ts';
import { createSseParser } from '../../common/openai/index.ts';

export interface CompletionTarget {
  /** The server's origin, e.g. http://127.0.0.1:8000 (requests go to <origin>/v1/completions). */
  readonly origin: string;
  readonly model: string;
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  /** Whole-request limit, ms: connecting, first token and the last byte included. */
  readonly timeoutMs: number;
  /** Ask for exactly max_tokens (vLLM's ignore_eos), so output lengths follow the workload. */
  readonly ignoreEos: boolean;
  readonly apiKey?: string | undefined;
}

/** What one streamed request showed. Clock times are the target clock's (ms). */
export interface StreamMeasurement {
  readonly ok: boolean;
  /**
   * Failure class: http_<status>; timeout; cancelled (the run stopped); connection (no response:
   * refused, reset before the headers); stream_error (an error event); stream_truncated (the
   * stream ended or broke before [DONE]); bad_response (not an event stream).
   */
  readonly failure?: string;
  readonly detail?: string;
  readonly sentAt: number;
  readonly firstTokenAt?: number;
  readonly lastTokenAt?: number;
  readonly endAt: number;
  /** Gaps between successive chunks that carried text, ms. */
  readonly gapsMs: number[];
  /** usage.completion_tokens, or the chunks that carried text when the server sent no usage. */
  readonly outputTokens: number;
  readonly promptTokens?: number;
  readonly cachedTokens?: number;
}

class Timeout extends Error {}

/**
 * Sends one request to /v1/completions with the prompt as token ids, streaming, and times every
 * chunk as it arrives: TTFT is the first chunk with text, ITL the gaps between chunks with text
 * (vLLM streams one token a chunk by default). Never throws: every failure (HTTP status, an
 * error event mid-stream, a stream cut before `[DONE]`, the timeout, a refused connection) comes
 * back as a failed measurement.
 */
export async function streamCompletion(
  target: CompletionTarget,
  item: BenchRequest,
  signal: AbortSignal,
): Promise<StreamMeasurement> {
  const { clock } = target;
  const sentAt = clock.now();
  const gapsMs: number[] = [];
  let firstTokenAt: number | undefined;
  let lastTokenAt: number | undefined;
  let chunksWithText = 0;
  let usage: { prompt?: number; completion?: number; cached?: number } = {};
  let done = false;
  let streaming = false;
  let streamError: string | undefined;

  const timeout = new AbortController();
  const cancelTimer = clock.setTimer(target.timeoutMs, () =>
    timeout.abort(new Timeout(`no complete answer within ${target.timeoutMs} ms`)),
  );
  const both = AbortSignal.any([signal, timeout.signal]);
  const finish = (ok: boolean, failure?: string, detail?: string): StreamMeasurement => {
    cancelTimer();
    const outputTokens = usage.completion ?? chunksWithText;
    return {
      ok,
      ...(failure === undefined ? {} : { failure }),
      ...(detail === undefined ? {} : { detail }),
      sentAt,
      ...(firstTokenAt === undefined ? {} : { firstTokenAt }),
      ...(lastTokenAt === undefined ? {} : { lastTokenAt }),
      endAt: clock.now(),
      gapsMs,
      outputTokens,
      ...(usage.prompt === undefined ? {} : { promptTokens: usage.prompt }),
      ...(usage.cached === undefined ? {} : { cachedTokens: usage.cached }),
    };
  };

  const onData = (data: string) => {
    if (data === '[DONE]') {
      done = true;
      return;
    }
    let chunk: CompletionChunk;
    try {
      chunk = JSON.parse(data) as CompletionChunk;
    } catch {
      streamError ??= `undecodable event: ${data.slice(0, 120)}`;
      return;
    }
    if (chunk.error) {
      streamError ??= chunk.error.message ?? JSON.stringify(chunk.error);
      return;
    }
    const text = chunk.choices?.[0]?.text ?? chunk.choices?.[0]?.delta?.content;
    if (typeof text === 'string' && text.length > 0) {
      const at = clock.now();
      if (firstTokenAt === undefined) firstTokenAt = at;
      else gapsMs.push(at - lastTokenAt!);
      lastTokenAt = at;
      chunksWithText++;
    }
    if (chunk.usage) {
      usage = {
        ...(typeof chunk.usage.prompt_tokens === 'number' ? { prompt: chunk.usage.prompt_tokens } : {}),
        ...(typeof chunk.usage.completion_tokens === 'number' ? { completion: chunk.usage.completion_tokens } : {}),
        ...(typeof chunk.usage.prompt_tokens_details?.cached_tokens === 'number'
          ? { cached: chunk.usage.prompt_tokens_details.cached_tokens }
          : {}),
      };
    }
  };

  try {
    const response = await request(`${target.origin}/v1/completions`, {
      method: 'POST',
      dispatcher: target.dispatcher,
      signal: both,
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        'x-request-id': item.id,
        ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
      },
      body: requestBody(target, item),
    });
    if (response.statusCode >= 400) {
      const text = await response.body.text().catch(() => '');
      return finish(false, `http_${response.statusCode}`, errorMessage(text));
    }
    const type = String(response.headers['content-type'] ?? '');
    if (!type.includes('text/event-stream')) {
      await response.body.dump().catch(() => undefined);
      return finish(false, 'bad_response', `expected text/event-stream, got ${type || 'no content-type'}`);
    }
    const parser = createSseParser(onData);
    streaming = true;
    for await (const bytes of response.body) {
      parser.push(bytes as Uint8Array);
      if (streamError !== undefined) break;
    }
    parser.end();
    if (streamError !== undefined) return finish(false, 'stream_error', streamError);
    if (!done) return finish(false, 'stream_truncated', 'the stream ended before data: [DONE]');
    return finish(true);
  } catch (error) {
    if (timeout.signal.aborted) return finish(false, 'timeout', (timeout.signal.reason as Error).message);
    if (signal.aborted) return finish(false, 'cancelled', 'the run was stopped');
    // After the headers, a broken connection is a cut stream; before them, no answer at all.
    return finish(false, streaming ? 'stream_truncated' : 'connection', describe(error));
  }
}

interface CompletionChunk {
  choices?: { text?: string; delta?: { content?: string } }[];
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  };
  error?: { message?: string };
}

/** The JSON body; the prompt's ids are joined directly (a 7,200-token prompt is ~40 KB). */
function requestBody(target: CompletionTarget, item: BenchRequest): string {
  const rest = JSON.stringify({
    model: target.model,
    max_tokens: item.maxOutputTokens,
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0,
    ...(target.ignoreEos ? { ignore_eos: true } : {}),
    user: item.sessionKey,
  });
  return `{"prompt":[${item.promptTokenIds.join(',')}],${rest.slice(1)}`;
}

function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string }; message?: string };
    return body.error?.message ?? body.message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code ?? (error.cause as { code?: string } | undefined)?.code;
  return code ? `${code}: ${error.message}` : error.message;
}
