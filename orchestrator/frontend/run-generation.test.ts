import { beforeAll, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { DEFAULT_SAMPLING } from '../../common/openai/parse-request.ts';
import { createOrchestratorMetrics } from '../metrics/index.ts';
import type { GenerationEvent, ServingCore, TokenizedRequest } from '../serving.ts';
import { loadModelTokenizer, type Tokenizer } from '../../common/tokenizer/index.ts';
import { greedySampling } from '../../test/fakes/engine-calls.ts';
import type { PreparedRequest } from './prepare-request.ts';
import { createRequestObserver } from './request-observer.ts';
import { runGeneration, STOP_DRAIN_MS, type OutputEvent } from './run-generation.ts';

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = (await loadModelTokenizer('qwen3')).tokenizer;
});

const request: TokenizedRequest = {
  requestId: 'r1',
  model: 'm',
  promptTokenIds: [1, 2, 3],
  sampling: greedySampling(50),
  sessionKey: undefined,
  deadlineUnixMs: 0,
};

function prepared(stop: string[] = []): PreparedRequest {
  return {
    kind: 'completion',
    promptTail: [],
    request,
    options: {
      model: 'm',
      stream: false,
      includeUsage: false,
      continuousUsage: false,
      ...DEFAULT_SAMPLING,
      maxTokens: 50,
      temperature: 0,
      stop,
      user: undefined,
    },
  };
}

/** A core that yields `ids` one per event, then waits forever, deaf to its signal. */
function deafCore(ids: readonly number[], seen: { signal?: AbortSignal }): ServingCore {
  return {
    models: () => ['m'],
    explain: () => null,
    readiness: () => ({ ready: true, detail: '' }),
    workers: () => [],
    async *generate(_request, signal): AsyncGenerator<GenerationEvent> {
      seen.signal = signal;
      for (const id of ids) yield { kind: 'tokens', tokenIds: [id] };
      await new Promise(() => undefined);
    },
  };
}

async function collect(iterable: AsyncIterable<OutputEvent>): Promise<OutputEvent[]> {
  const out: OutputEvent[] = [];
  for await (const event of iterable) out.push(event);
  return out;
}

describe('runGeneration against a core that ignores its abort signal', () => {
  it('finishes a stop-string match after STOP_DRAIN_MS without the core final usage', async () => {
    const clock = createVirtualClock(1_000);
    const ids = await tokenizer.encode('alpha beta STOP gamma', { addSpecialTokens: false });
    const seen: { signal?: AbortSignal } = {};
    const observer = createRequestObserver(createOrchestratorMetrics(), clock, clock.now());
    const done = collect(
      runGeneration({
        core: deafCore(ids, seen),
        prepared: prepared(['STOP']),
        tokenizer,
        clock,
        signal: new AbortController().signal,
        observer,
      }),
    );
    await clock.advanceAsync(STOP_DRAIN_MS - 1);
    let settled = false;
    void done.then(() => (settled = true));
    await clock.advanceAsync(0);
    expect(settled).toBe(false); // still waiting for the core's final event
    await clock.advanceAsync(1);
    const events = await done;
    expect(seen.signal?.aborted).toBe(true);
    const finish = events.at(-1)!;
    expect(finish).toMatchObject({
      kind: 'finish',
      finishReason: 'stop',
      stopReason: 'STOP',
      usage: { promptTokens: 3, cachedPromptTokens: 0 },
      mode: 'none',
    });
    expect(events.map((e) => ('text' in e ? e.text : '')).join('')).toBe('alpha beta ');
  });

  it('throws the abort reason at once when the client goes away, however deaf the core', async () => {
    const clock = createVirtualClock();
    const client = new AbortController();
    const seen: { signal?: AbortSignal } = {};
    const observer = createRequestObserver(createOrchestratorMetrics(), clock, 0);
    const events: OutputEvent[] = [];
    const run = (async () => {
      for await (const event of runGeneration({
        core: deafCore([9707], seen),
        prepared: prepared(),
        tokenizer,
        clock,
        signal: client.signal,
        observer,
      }))
        events.push(event);
    })();
    await clock.advanceAsync(10);
    expect(events.map((e) => ('text' in e ? e.text : ''))).toEqual(['Hello']);
    client.abort(new TandemError('cancelled', 'the client disconnected'));
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
    expect(seen.signal?.aborted).toBe(true);
  });

  it('reports a core that ends without its final event as an upstream error', async () => {
    const clock = createVirtualClock();
    const core: ServingCore = {
      ...deafCore([], {}),
      async *generate() {
        yield { kind: 'tokens', tokenIds: [9707] };
      },
    };
    const observer = createRequestObserver(createOrchestratorMetrics(), clock, 0);
    await expect(
      collect(
        runGeneration({ core, prepared: prepared(), tokenizer, clock, signal: new AbortController().signal, observer }),
      ),
    ).rejects.toMatchObject({ code: 'upstream_error' });
  });
});
