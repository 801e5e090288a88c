import type { Rng } from '../../common/rng.ts';
import { poissonArrivals } from './arrivals.ts';
import { createMinHeap } from './min-heap.ts';
import { createBranchPoint, createTokenHistory, type TokenHistory } from './tokens.ts';
import type { BenchRequest, CompletionReport, RequestSource } from './types.ts';

/** What a session is, drawn when it starts. */
export interface SessionScript {
  /** Requests it sends at most (>= 1). */
  readonly steps: number;
  /** Tokens of its opening message (the first user turn, the agent's task), >= 1. */
  readonly openingTokens: number;
}

export interface SessionSourceOptions {
  readonly rng: Rng;
  /** Requests/s the stream aims at: sessions start (Poisson) at ratePerS / meanSteps. */
  readonly ratePerS: number;
  /** Mean of `steps` over sessions. */
  readonly meanSteps: number;
  /** Sessions to start in all; 0 = no end. */
  readonly sessions: number;
  /** Every session's context starts with these tokens (system prompt, tool definitions). */
  readonly sharedPrefix: Uint32Array;
  /** Request ids are `<idPrefix><session>-<step>`, session keys `<idPrefix><session>`. */
  readonly idPrefix: string;
  /** A session ends rather than send a prompt whose length plus max_tokens exceeds this. */
  readonly maxContextTokens: number;
  newSession(rng: Rng): SessionScript;
  /** max_tokens of step `step` (0-based). */
  maxOutputTokens(rng: Rng, step: number): number;
  /** After step `step` completes: tokens appended after the reply, and the pause before the next request. */
  followUp(rng: Rng, step: number): { readonly appendTokens: number; readonly delayMs: number };
}

interface Session {
  readonly index: number;
  readonly rng: Rng;
  readonly history: TokenHistory;
  readonly steps: number;
  step: number;
  /** Prompt length of the step in flight (the prefix the next step shares). */
  promptTokens: number;
}

interface Pending {
  readonly arrivalMs: number;
  readonly seq: number;
  readonly session: Session;
  readonly prompt: Uint32Array;
  readonly maxOutputTokens: number;
}

/**
 * Sessions whose context grows step by step, each step re-sending the whole history: the
 * engine behind `multi-turn-chat` and `agentic`. A step is released only when the previous one
 * completes (arrival = completion + the follow-up's pause), with the reply appended as tokens
 * drawn from the session's own stream, as many as the server produced. (The server's actual
 * output ids are not fed back, so a cache can reuse each previous prompt but not the previous
 * reply; `sharedPrefixTokens` counts exactly that.) Sessions draw from forked streams, so their
 * content does not depend on how their completions interleave.
 */
export function createSessionSource(options: SessionSourceOptions): RequestSource {
  const starts = poissonArrivals(options.rng.fork('arrivals'), options.ratePerS / options.meanSteps);
  const contentRng = options.rng.fork('content');
  const openingBranch = createBranchPoint();
  const shared = options.sharedPrefix;
  const pending = createMinHeap<Pending>(
    (a, b) => a.arrivalMs < b.arrivalMs || (a.arrivalMs === b.arrivalMs && a.seq < b.seq),
  );
  const inFlight = new Map<string, Session>();
  let nextIndex = 0;
  let nextStartMs = starts.next();
  let seq = 0;
  let taken = 0;

  const moreStarts = () => options.sessions === 0 || nextIndex < options.sessions;
  const startSession = (arrivalMs: number): Pending | undefined => {
    const index = nextIndex++;
    const rng = contentRng.fork(`session-${index}`);
    const script = options.newSession(rng);
    const history = createTokenHistory(shared.length + script.openingTokens + 1024);
    history.append(shared);
    // The fresh first token is drawn from the shared stream in session order (siblings).
    history.appendDrawn(contentRng, 1, openingBranch);
    history.appendDrawn(rng, script.openingTokens - 1);
    const session: Session = { index, rng, history, steps: script.steps, step: 0, promptTokens: 0 };
    return release(session, arrivalMs);
  };
  const release = (session: Session, arrivalMs: number): Pending | undefined => {
    const maxOutputTokens = options.maxOutputTokens(session.rng, session.step);
    if (session.history.length + maxOutputTokens > options.maxContextTokens) return undefined;
    return { arrivalMs, seq: seq++, session, prompt: session.history.view(), maxOutputTokens };
  };
  const toRequest = (item: Pending): BenchRequest => {
    const { session } = item;
    const sharedPrefixTokens = session.step === 0 ? (taken > 0 ? shared.length : 0) : session.promptTokens;
    session.promptTokens = item.prompt.length;
    const id = `${options.idPrefix}${session.index}-${session.step}`;
    inFlight.set(id, session);
    taken++;
    return {
      id,
      arrivalMs: item.arrivalMs,
      promptTokenIds: item.prompt,
      maxOutputTokens: item.maxOutputTokens,
      sessionKey: `${options.idPrefix}${session.index}`,
      sharedPrefixTokens,
    };
  };

  const source: RequestSource = {
    nextArrivalMs() {
      const queued = pending.peek()?.arrivalMs;
      if (!moreStarts()) return queued;
      return queued === undefined || nextStartMs < queued ? nextStartMs : queued;
    },
    take() {
      for (;;) {
        const queued = pending.peek();
        if (moreStarts() && (queued === undefined || nextStartMs < queued.arrivalMs)) {
          const at = nextStartMs;
          nextStartMs = starts.next();
          const first = startSession(at);
          if (first) return toRequest(first);
          continue; // an opening too long for the context: the session never starts
        }
        const item = pending.pop();
        return item && toRequest(item);
      }
    },
    complete(id: string, report: CompletionReport) {
      const session = inFlight.get(id);
      if (!session) return;
      inFlight.delete(id);
      if (!report.ok || session.step + 1 >= session.steps) return;
      const next = options.followUp(session.rng, session.step);
      session.history.appendDrawn(session.rng, Math.max(0, Math.floor(report.outputTokens)));
      session.history.appendDrawn(session.rng, next.appendTokens);
      session.step++;
      const item = release(session, report.atMs + next.delayMs);
      if (item) pending.push(item);
    },
    ended: () => !moreStarts() && pending.size === 0 && inFlight.size === 0,
  };
  return source;
}
