import { describe, expect, it } from 'vitest';
import { createEngineCore, type CoreOutput, type EngineCore } from './engine-core.ts';
import { resolveEngineOptions, type SimEngineOptions } from './options.ts';

const prompt = (length: number, offset = 0) => Array.from({ length }, (_, i) => offset + i + 1);

function core(options: SimEngineOptions): EngineCore {
  return createEngineCore(resolveEngineOptions({ gpu: 'h100-sxm', model: 'qwen3-8b', ...options }));
}

/** Steps the core until it idles; returns every output and per-step figures. */
function drain(engine: EngineCore, onStep?: (index: number) => void) {
  const outputs: CoreOutput[] = [];
  const steps: { prefillTokens: number; decodeSequences: number; sequences: number }[] = [];
  let now = 0;
  for (;;) {
    const step = engine.step(now);
    if (!step) break;
    steps.push({ prefillTokens: step.prefillTokens, decodeSequences: step.decodeSequences, sequences: step.sequences });
    outputs.push(...step.outputs);
    now += step.durationMs;
    onStep?.(steps.length);
    if (steps.length > 100_000) throw new Error('the core never idled');
  }
  return { outputs, steps };
}

const tokensOf = (outputs: readonly CoreOutput[], requestId: string) =>
  outputs.filter((o) => o.requestId === requestId).flatMap((o) => o.tokenIds);

describe('continuous-batching scheduler', () => {
  it('splits a long prompt into chunks under the token budget while a running decode keeps going', () => {
    const engine = core({ maxNumBatchedTokens: 512, numBlocks: 1000 });
    engine.submit('generate', { requestId: 'short', promptTokenIds: prompt(100), sampling: { maxTokens: 40 } }, 0);
    const first = engine.step(0)!;
    expect(first.outputs.map((o) => o.requestId)).toEqual(['short']);

    engine.submit('generate', { requestId: 'long', promptTokenIds: prompt(2000, 5000), sampling: { maxTokens: 3 } }, 0);
    const chunks: number[] = [];
    let shortTokensMeanwhile = 0;
    let now = first.durationMs;
    for (;;) {
      const step = engine.step(now)!;
      now += step.durationMs;
      expect(step.prefillTokens + step.decodeSequences).toBeLessThanOrEqual(512);
      chunks.push(step.prefillTokens);
      shortTokensMeanwhile += step.outputs.filter((o) => o.requestId === 'short').length;
      if (step.outputs.some((o) => o.requestId === 'long')) break;
    }
    // 2000 prompt tokens at 511 per step (one budget token goes to the decode): four chunks.
    expect(chunks).toEqual([511, 511, 511, 467]);
    expect(shortTokensMeanwhile).toBe(4);
    drain(engine);
    expect(engine.pool.usedCount()).toBe(0);
  });

  it('never runs more than max_num_seqs requests at once, and finishes them all', () => {
    const engine = core({ maxNumSeqs: 3, numBlocks: 1000 });
    for (let i = 0; i < 7; i++)
      engine.submit(
        'generate',
        { requestId: `r${i}`, promptTokenIds: prompt(50, i * 100), sampling: { maxTokens: 10 } },
        0,
      );
    const { outputs, steps } = drain(engine);
    expect(Math.max(...steps.map((s) => s.sequences))).toBe(3);
    expect(Math.max(...steps.map((s) => s.decodeSequences))).toBe(3);
    expect(outputs.filter((o) => o.done && o.finishReason === 'length')).toHaveLength(7);
  });

  it('preempts the newest running request when blocks run out, and it still completes with the same tokens', () => {
    const run = (numBlocks: number) => {
      const engine = core({ numBlocks });
      for (let i = 0; i < 3; i++)
        engine.submit(
          'generate',
          { requestId: `r${i}`, promptTokenIds: prompt(64, i * 1000), sampling: { maxTokens: 100, seed: i } },
          0,
        );
      const { outputs } = drain(engine);
      return { engine, outputs };
    };
    // Each request grows to 164 tokens (11 blocks); 20 blocks cannot hold all three.
    const tight = run(20);
    const ample = run(1000);
    expect(tight.engine.status().preemptionsTotal).toBeGreaterThan(0);
    expect(ample.engine.status().preemptionsTotal).toBe(0);
    const usage = (outputs: readonly CoreOutput[], id: string) =>
      outputs.find((o) => o.requestId === id && o.done)!.usage!;
    expect(usage(tight.outputs, 'r0').preemptions).toBe(0);
    expect(usage(tight.outputs, 'r2').preemptions).toBeGreaterThan(0);
    for (const id of ['r0', 'r1', 'r2']) {
      expect(tokensOf(tight.outputs, id)).toHaveLength(100);
      expect(tokensOf(tight.outputs, id)).toEqual(tokensOf(ample.outputs, id));
    }
    expect(tight.engine.pool.usedCount()).toBe(0);
    expect(tight.engine.status().generationTokensTotal).toBe(300);
  });

  it('reuses a cached prefix at admission and prefills only the rest', () => {
    const engine = core({ numBlocks: 1000 });
    engine.submit('generate', { requestId: 'a', promptTokenIds: prompt(300), sampling: { maxTokens: 1 } }, 0);
    drain(engine);
    engine.submit(
      'generate',
      { requestId: 'b', promptTokenIds: [...prompt(256), ...prompt(100, 9000)], sampling: { maxTokens: 1 } },
      0,
    );
    const step = engine.step(0)!;
    expect(step.prefillTokens).toBe(100);
    expect(step.outputs[0]!.usage!.cachedPromptTokens).toBe(256);
    expect(engine.status().prefixCacheHitsTokens).toBe(256);
    expect(engine.status().prefixCacheQueriesTokens).toBe(656);
  });

  it('computes the last prompt token even when the whole prompt is cached', () => {
    const engine = core({ numBlocks: 1000 });
    engine.submit('generate', { requestId: 'a', promptTokenIds: prompt(64), sampling: { maxTokens: 1 } }, 0);
    drain(engine);
    engine.submit('generate', { requestId: 'b', promptTokenIds: prompt(64), sampling: { maxTokens: 1 } }, 0);
    const step = engine.step(0)!;
    expect(step.prefillTokens).toBe(16);
    expect(step.outputs[0]!.usage!.cachedPromptTokens).toBe(48);
  });

  it('reports prompt tokens still to prefill, running and waiting counts, as chunks complete', () => {
    const engine = core({ maxNumBatchedTokens: 1000, maxNumSeqs: 1, numBlocks: 1000 });
    engine.submit('generate', { requestId: 'a', promptTokenIds: prompt(2500), sampling: { maxTokens: 2 } }, 0);
    engine.submit('generate', { requestId: 'b', promptTokenIds: prompt(300, 9000), sampling: { maxTokens: 2 } }, 0);
    expect(engine.status()).toMatchObject({ queuedPrefillTokens: 2800, runningRequests: 0, waitingRequests: 2 });
    engine.step(0);
    expect(engine.status()).toMatchObject({ queuedPrefillTokens: 1800, runningRequests: 1, waitingRequests: 1 });
    engine.step(0);
    engine.step(0);
    // "a" is decoding now: only "b", still waiting behind max_num_seqs 1, has prompt left.
    expect(engine.status()).toMatchObject({ queuedPrefillTokens: 300, runningRequests: 1, waitingRequests: 1 });
    expect(engine.status().usedBlocks).toBe(Math.ceil(2501 / 16));
    expect(engine.status().kvCacheUsage).toBeCloseTo(157 / 1000, 9);
  });

  it("reports a waiting request's queued prefill net of the prefix its cache held at submission", () => {
    const engine = core({ maxNumSeqs: 1, numBlocks: 1000 });
    engine.submit('generate', { requestId: 'warm', promptTokenIds: prompt(640), sampling: { maxTokens: 1 } }, 0);
    drain(engine);
    engine.submit('generate', { requestId: 'busy', promptTokenIds: prompt(100, 5000), sampling: { maxTokens: 50 } }, 0);
    engine.step(0); // "busy" runs (max_num_seqs 1): what follows waits
    // 640 shared tokens + 160 new: 640 cached (40 whole blocks), so 160 queued, not 800.
    engine.submit(
      'generate',
      { requestId: 'hit', promptTokenIds: [...prompt(640), ...prompt(160, 7000)], sampling: { maxTokens: 1 } },
      0,
    );
    engine.submit('generate', { requestId: 'miss', promptTokenIds: prompt(200, 9000), sampling: { maxTokens: 1 } }, 0);
    expect(engine.status()).toMatchObject({ waitingRequests: 2, queuedPrefillTokens: 160 + 200 });
  });
});
