import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendChunk, WorkerBackend } from '../orchestrator/backends/index.ts';
import { createGrpcBackend } from '../orchestrator/backends/index.ts';
import type { SamplingOptions } from '../orchestrator/serving.ts';
import type { RunningWorker } from '../workers/process/index.ts';
import { startInProcessWorker } from './fakes/in-process-worker.ts';

/**
 * The sampling fields and logprobs over the real wire: the orchestrator's grpc backend against
 * two in-process Tandem workers (simulated engines, real gRPC on loopback). Each field reaches
 * the engine (it changes the tokens), logprobs come back one per token, and a request split
 * into a prefill on one worker and a decode on the other samples exactly what it would have in
 * one piece, penalties, temperature and all, the first token's logprobs coming with the prefill.
 */

const workers: RunningWorker[] = [];
const backends: WorkerBackend[] = [];
let P: WorkerBackend;
let D: WorkerBackend;

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const worker = await startInProcessWorker();
    workers.push(worker);
    backends.push(createGrpcBackend({ name: `w${i}`, address: worker.addresses.grpc }));
  }
  [P, D] = backends as [WorkerBackend, WorkerBackend];
});

afterAll(async () => {
  for (const backend of backends) await backend.close();
  for (const worker of workers) await worker.close();
});

const PROMPT = Array.from({ length: 100 }, (_, i) => 1000 + ((i * 7919) % 3000));
const BASE: SamplingOptions = {
  maxTokens: 40,
  temperature: 1,
  topP: 1,
  seed: 11,
  stopTokenIds: [],
  ignoreEos: true,
  minTokens: 0,
};
let serial = 0;
const call = (sampling: Partial<SamplingOptions>) => ({
  requestId: `g${++serial}`,
  model: '',
  tokenIds: PROMPT,
  sampling: { ...BASE, ...sampling },
  deadlineUnixMs: Date.now() + 30_000,
});

async function drain(
  stream: AsyncIterable<BackendChunk>,
): Promise<{ tokens: number[]; logprobs: NonNullable<BackendChunk['logprobs']>[number][] }> {
  const tokens: number[] = [];
  const logprobs: NonNullable<BackendChunk['logprobs']>[number][] = [];
  for await (const chunk of stream) {
    tokens.push(...chunk.tokenIds);
    logprobs.push(...(chunk.logprobs ?? []));
  }
  return { tokens, logprobs };
}

const generate = (sampling: Partial<SamplingOptions>) =>
  drain(D.generate(call(sampling), new AbortController().signal));

describe('sampling fields over gRPC', () => {
  it('carries top_k, min_p and each penalty to the engine, where each changes the output', async () => {
    const plain = (await generate({ topK: 32 })).tokens;
    const greedy = (await generate({ temperature: 0, logprobs: 0 })).tokens;
    expect(plain).not.toEqual(greedy);
    expect((await generate({ topK: 1 })).tokens).toEqual(greedy);
    expect((await generate({ minP: 1 })).tokens).toEqual(greedy);
    for (const penalty of [{ presencePenalty: -2 }, { frequencyPenalty: 2 }, { repetitionPenalty: 3 }]) {
      expect((await generate({ topK: 32, ...penalty })).tokens, JSON.stringify(penalty)).not.toEqual(plain);
    }
  });

  it('returns logprobs for every token when asked, and none otherwise', async () => {
    const asked = await generate({ logprobs: 2 });
    expect(asked.logprobs).toHaveLength(asked.tokens.length);
    for (const lp of asked.logprobs) {
      expect(lp.top).toHaveLength(2);
      expect(lp.logprob).toBeLessThan(0);
    }
    expect((await generate({})).logprobs).toHaveLength(0);
  });

  it('samples the same tokens and logprobs disaggregated as aggregated, the first with the prefill', async () => {
    const sampling = { topK: 20, frequencyPenalty: 0.8, repetitionPenalty: 1.3, logprobs: 3 };
    const whole = await generate(sampling);
    const first = await P.prefill(call(sampling), new AbortController().signal);
    expect(first.firstTokenId).toBe(whole.tokens[0]);
    expect(first.firstTokenLogprob).toEqual(whole.logprobs[0]);
    const rest = await drain(
      D.decode(
        { ...call(sampling), handoff: first.handoff!, firstTokenId: first.firstTokenId! },
        new AbortController().signal,
      ),
    );
    expect([first.firstTokenId, ...rest.tokens]).toEqual(whole.tokens);
    expect([first.firstTokenLogprob, ...rest.logprobs]).toEqual(whole.logprobs);
  });
});
