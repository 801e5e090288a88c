import type { Clock } from '../../common/clock.ts';
import { TandemError, toTandemError } from '../../common/errors.ts';
import type { ModeLabel } from '../metrics/index.ts';
import type { FinishReason, GenerationEvent, RouteSummary, ServingCore, TokenLogprob, Usage } from '../serving.ts';
import type { TokenLogprobText } from '../../common/openai/index.ts';
import type { Tokenizer } from '../../common/tokenizer/index.ts';
import type { PreparedRequest } from './prepare-request.ts';
import type { RequestObserver } from './request-observer.ts';
import { createStopMatcher } from '../../common/stop-strings.ts';

/**
 * Runs one prepared request through the core and turns its token events into text, HTTP-free:
 * incremental detokenization, stop strings (a match aborts the core and ends the stream with
 * finish_reason "stop"), and the usage the response reports. An HTTP engine's own output
 * (`output` events) passes as it is: that engine applied the stop strings itself. Throws a TandemError when the core
 * fails or `signal` aborts (its reason, a TandemError, is what is thrown), and when the core ends
 * with finish "abort" the frontend did not cause (deadline_exceeded near the deadline, else
 * upstream_error): a cut-short answer never ends like a complete one.
 */

export type OutputEvent =
  /**
   * Text the tokens so far add; `completionTokens` counts every token received so far. With
   * logprobs asked for, `logprobs` holds those of the tokens whose text this is (a token whose
   * bytes do not finish a character goes with the next text).
   */
  | {
      readonly kind: 'text';
      readonly text: string;
      readonly completionTokens: number;
      readonly logprobs?: readonly TokenLogprobText[];
    }
  /** An HTTP engine's own output, for the client as it is (see GenerationEvent `output`). */
  | { readonly kind: 'output'; readonly data: readonly string[]; readonly completionTokens: number }
  /** The last event: remaining text, why it ended, and the usage to report. */
  | {
      readonly kind: 'finish';
      readonly text: string;
      readonly finishReason: FinishReason;
      /** vLLM's stop_reason: the stop string or stop token id that ended it, else null. */
      readonly stopReason: string | number | null;
      readonly usage: Usage;
      readonly mode: ModeLabel;
      /** Where it ran, when the core said. */
      readonly route: RouteSummary | undefined;
      /** With logprobs asked for: those of the tokens not reported yet. */
      readonly logprobs?: readonly TokenLogprobText[];
    };

export interface RunGenerationOptions {
  readonly core: ServingCore;
  readonly prepared: PreparedRequest;
  readonly tokenizer: Tokenizer;
  readonly clock: Clock;
  /** Client gone, deadline, or shutdown; the reason must be a TandemError. */
  readonly signal: AbortSignal;
  readonly observer: RequestObserver;
}

/** How long to wait, after aborting the core on a stop string, for its final `done` (ms). */
export const STOP_DRAIN_MS = 2000;

export async function* runGeneration(options: RunGenerationOptions): AsyncGenerator<OutputEvent> {
  const { prepared, signal, observer } = options;
  const { options: output, request } = prepared;
  const coreAbort = new AbortController();
  const forward = () => coreAbort.abort(signal.reason);
  if (signal.aborted) throw reasonOf(signal);
  signal.addEventListener('abort', forward, { once: true });

  const detokenizer = options.tokenizer.createDetokenizer({
    skipSpecialTokens: output.skipSpecialTokens,
    promptTail: prepared.promptTail,
  });
  const stops = createStopMatcher(output.stop, output.includeStopStrInOutput);
  const stopTokenIds = new Set(output.stopTokenIds);
  const iterator = options.core.generate(request, coreAbort.signal)[Symbol.asyncIterator]();
  // The core's next event, or the abort reason if `signal` fires first (a core deaf to its own
  // signal cannot hold a request). One abort listener per request, not one per event.
  let rejectPending: ((reason: TandemError) => void) | undefined;
  const onAbort = () => rejectPending?.(reasonOf(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  const nextEvent = () =>
    new Promise<IteratorResult<GenerationEvent>>((resolve, reject) => {
      if (signal.aborted) return reject(reasonOf(signal));
      rejectPending = reject;
      iterator.next().then(resolve, reject);
    });
  let completionTokens = 0;
  let lastTokenId: number | undefined;
  let coreDone = false;
  // Logprobs (when asked) of the tokens whose text has not gone out yet, with their token texts.
  const texts = request.sampling.logprobs === undefined ? undefined : createTokenTexts(options.tokenizer);
  let pending: TokenLogprobText[] = [];
  const takeLogprobs = () => {
    if (texts === undefined) return {};
    const logprobs = pending;
    pending = [];
    return { logprobs };
  };

  try {
    for (;;) {
      let step: IteratorResult<GenerationEvent>;
      try {
        step = await nextEvent();
      } catch (error) {
        throw signal.aborted ? reasonOf(signal) : toTandemError(error);
      }
      if (step.done) throw new TandemError('upstream_error', 'the serving core ended the stream without a final event');
      const event = step.value;

      if (event.kind === 'tokens') {
        if (event.tokenIds.length === 0) continue;
        observer.tokens(event.tokenIds.length);
        let text = '';
        const ids = event.tokenIds;
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i]!;
          completionTokens++;
          lastTokenId = id;
          const logprob = event.logprobs?.[i];
          if (texts !== undefined && logprob !== undefined) pending.push(await texts.render(id, logprob));
          const match = stops.push(detokenizer.push(id));
          text += match.text;
          if (match.stop !== undefined) {
            coreAbort.abort(new TandemError('cancelled', 'stop string matched'));
            const drained = await drainUsage(iterator, options.clock);
            yield {
              kind: 'finish',
              text,
              finishReason: 'stop',
              stopReason: match.stop,
              usage: {
                promptTokens: drained?.usage.promptTokens ?? request.promptTokenIds.length,
                cachedPromptTokens: drained?.usage.cachedPromptTokens ?? 0,
                completionTokens,
              },
              mode: drained?.mode ?? 'none',
              route: drained?.route,
              ...takeLogprobs(),
            };
            return;
          }
        }
        // (No spread per token: logprobs only when asked.)
        if (text !== '')
          yield texts === undefined
            ? { kind: 'text', text, completionTokens }
            : { kind: 'text', text, completionTokens, ...takeLogprobs() };
        continue;
      }

      if (event.kind === 'output') {
        if (event.tokens > 0) observer.tokens(event.tokens);
        completionTokens += event.tokens;
        yield { kind: 'output', data: event.data, completionTokens };
        continue;
      }

      coreDone = true;
      // The core stopped it though the frontend did not (a stop string returns above): a
      // worker's own deadline, or an engine that aborted it. Not a complete answer.
      if (event.finishReason === 'abort') throw cutShort(request.deadlineUnixMs, options.clock.now(), signal);
      const tail = stops.push(detokenizer.flush());
      const finishedOnStopToken =
        event.finishReason === 'stop' && lastTokenId !== undefined && stopTokenIds.has(lastTokenId);
      yield {
        kind: 'finish',
        text: tail.text + (tail.stop === undefined ? stops.flush() : ''),
        finishReason: tail.stop === undefined ? event.finishReason : 'stop',
        stopReason: tail.stop ?? (finishedOnStopToken ? lastTokenId! : null),
        usage: event.usage,
        mode: event.mode ?? 'none',
        route: event.route,
        ...takeLogprobs(),
      };
      return;
    }
  } finally {
    signal.removeEventListener('abort', forward);
    signal.removeEventListener('abort', onAbort);
    if (!coreDone) {
      // Left before the core's final event (client gone, error, stop string, consumer stopped):
      // make sure the core lets go. Not awaited: a core stuck in an await must not hold us.
      if (!coreAbort.signal.aborted) coreAbort.abort(new TandemError('cancelled', 'the frontend stopped reading'));
      void iterator.return?.()?.catch(() => undefined);
    }
  }
}

/**
 * Slack for the workers' own deadline timers (the same instant as the frontend's): a request the
 * core aborted within this long of its deadline ended by the deadline, ms.
 */
export const DEADLINE_SLACK_MS = 1000;

/** The error for a core that ended a request with finish "abort" the frontend did not ask for. */
function cutShort(deadlineUnixMs: number, nowMs: number, signal: AbortSignal): TandemError {
  if (signal.aborted) return reasonOf(signal);
  if (nowMs >= deadlineUnixMs - DEADLINE_SLACK_MS)
    return new TandemError('deadline_exceeded', 'the request reached its deadline');
  return new TandemError('upstream_error', 'the worker aborted the request before it finished');
}

function reasonOf(signal: AbortSignal): TandemError {
  return toTandemError(signal.reason, 'cancelled');
}

/** `promise`, or a rejection with the signal's reason if it aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** After an abort: reads on to the core's final `done`, if it comes within STOP_DRAIN_MS. */
async function drainUsage(
  iterator: AsyncIterator<GenerationEvent>,
  clock: Clock,
): Promise<{ usage: Usage; mode: ModeLabel; route: RouteSummary | undefined } | undefined> {
  const timeout = new AbortController();
  const cancel = clock.setTimer(STOP_DRAIN_MS, () =>
    timeout.abort(new TandemError('deadline_exceeded', 'drain timed out')),
  );
  try {
    for (;;) {
      const step = await untilAborted(iterator.next(), timeout.signal);
      if (step.done) return undefined;
      if (step.value.kind === 'done')
        return { usage: step.value.usage, mode: step.value.mode ?? 'none', route: step.value.route };
    }
  } catch {
    return undefined;
  } finally {
    cancel();
  }
}

/**
 * Token logprobs with their tokens' texts (each id decoded alone, special tokens kept, as vLLM
 * shows them), cached per request: the same alternatives come up again and again.
 */
function createTokenTexts(tokenizer: Tokenizer): {
  render(id: number, logprob: TokenLogprob): Promise<TokenLogprobText>;
} {
  const cache = new Map<number, Promise<string>>();
  const text = (id: number) => {
    let known = cache.get(id);
    if (known === undefined) cache.set(id, (known = tokenizer.decode([id], { skipSpecialTokens: false })));
    return known;
  };
  return {
    async render(id, logprob) {
      const [token, ...top] = await Promise.all([text(id), ...logprob.top.map((t) => text(t.tokenId))]);
      return {
        token: token!,
        logprob: logprob.logprob,
        top: logprob.top.map((t, i) => ({ token: top[i]!, logprob: t.logprob })),
      };
    },
  };
}
