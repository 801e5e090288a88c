import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allHealthy,
  complete,
  MODEL,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { createWorkerFleet, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * A gRPC worker PROCESS that dies mid-stream (SIGKILL: no trailers, no RST_STREAM, the socket
 * just goes) is an upstream failure for the client, never a cancellation: the streaming client
 * gets an SSE error event of type BadGatewayError (code 502, upstream_error), the non-streaming
 * one an HTTP 502. The failed request's log line still names the worker and the mode.
 * Each case starts its own worker: the sim engine at time scale 1 generates slowly enough
 * (thousands of tokens) that the kill lands mid-generation.
 */

const fleet = createWorkerFleet();
const orchestrators: RunningOrchestrator[] = [];
afterAll(async () => {
  for (const o of orchestrators) await o.close();
  await fleet.stopAll();
});

async function oneWorker(role = 'both'): Promise<{ worker: WorkerProcess; running: RunningOrchestrator }> {
  const worker = await fleet.start(['--time-scale', '1', '--role', role]);
  // No role configured: the worker's announced role is taken without a warning.
  const running = await startOrchestrator(testConfig([{ name: 'w0', address: worker.ready.grpc }]));
  orchestrators.push(running);
  await allHealthy(running, ['w0']);
  return { worker, running };
}

function failedLine(running: RunningOrchestrator, requestId: string) {
  return running.logs.find(
    (line) =>
      line.requestId === requestId && typeof line.msg === 'string' && line.msg.startsWith(`request ${requestId} error`),
  );
}

// Both cases' workers and orchestrators start at once (a worker process takes seconds to start).
let setups: Promise<[Awaited<ReturnType<typeof oneWorker>>, Awaited<ReturnType<typeof oneWorker>>]>;
beforeAll(() => {
  setups = Promise.all([oneWorker('decode'), oneWorker()]);
});

describe('a gRPC worker process killed mid-stream', () => {
  let setup: { worker: WorkerProcess; running: RunningOrchestrator };
  beforeAll(async () => {
    [setup] = await setups;
  });

  it('takes the role the worker announces when workers[] names none, without a warning', () => {
    const { running } = setup;
    expect(running.orchestrator.fleet.snapshot().find((w) => w.name === 'w0')?.role).toBe('decode');
    expect(running.logs.filter((line) => line.level >= 40).map((line) => line.msg)).not.toContainEqual(
      expect.stringMatching(/announces role/),
    );
  });

  it('ends a streaming response with an upstream_error event, not a cancel', async () => {
    const { worker, running } = setup;
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.completions.create(
      {
        model: MODEL,
        prompt: 'Tell me a very long story.',
        max_tokens: 4000,
        stream: true,
        ignore_eos: true,
      } as OpenAI.CompletionCreateParamsStreaming,
      { headers: { 'x-request-id': 'killed-stream' } },
    );
    let chunks = 0;
    let caught: unknown;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.text) chunks++;
        if (chunks === 3) worker.child.kill('SIGKILL');
      }
    } catch (error) {
      caught = error;
    }
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(caught).toBeInstanceOf(OpenAI.APIError);
    const error = (caught as InstanceType<typeof OpenAI.APIError>).error as {
      type?: string;
      code?: number;
      message?: string;
    };
    expect(error.type).toBe('BadGatewayError');
    expect(error.code).toBe(502);
    expect(error.message).toMatch(/w0/);
    const line = failedLine(running, 'killed-stream');
    expect(line, JSON.stringify(running.logs.filter((l) => l.requestId === 'killed-stream'))).toBeDefined();
    expect(line!.outcome).toBe('error');
    expect(line!.mode).toBe('aggregated');
    expect(line!.workers).toEqual(['w0']);
  });
});

describe('a gRPC worker process killed before the client saw a byte', () => {
  it('answers a non-streaming request with 502 upstream_error, not 499', async () => {
    const [, { worker, running }] = await setups;
    const pending = complete(
      running.url,
      { model: MODEL, prompt: 'Tell me a very long story.', max_tokens: 4000, ignore_eos: true },
      { 'x-request-id': 'killed-whole' },
    );
    // Wait until the worker is generating, then kill it.
    for (let i = 0; i < 500; i++) {
      if ((await worker.grpc.getStatus({})).runningRequests > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    worker.child.kill('SIGKILL');
    const response = await pending;
    expect(response.status).toBe(502);
    expect(response.json.error.type).toBe('BadGatewayError');
    const line = failedLine(running, 'killed-whole');
    expect(line).toBeDefined();
    expect(line!.mode).toBe('aggregated');
    expect(line!.workers).toEqual(['w0']);
  });
});
