import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../common/errors.ts';
import type { WorkerService } from '../proto/gen/tandem/v1/worker_pb.ts';
import type { ServiceClient } from '../proto/grpc/index.ts';
import { createBackendTap, type BackendTap } from './fakes/backend-tap.ts';
import {
  allHealthy,
  MODEL,
  requestLogs,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * Every failure of a disaggregated request, injected into a real deployment: a prefill and two
 * decode reference workers as processes (real TCP KV transfers) behind the orchestrator in mode
 * `always`. Failures are injected at the orchestrator's backend seam (test/fakes/backend-tap.ts)
 * at the exact moment named, or by killing the prefill process. Each request must end as the
 * issue says (served exactly, or cancelled on both sides), and afterwards every worker's
 * held-block count (GetStatus held_blocks) is back at its baseline, zero, and nothing runs.
 */
const fleet = createWorkerFleet();
let P: WorkerProcess;
let D: WorkerProcess[] = [];
let running: RunningOrchestrator;
let tap: BackendTap;
const MAX_TOKENS = 10;

beforeAll(async () => {
  const started = await Promise.all([
    fleet.start(['--engine', 'reference', '--role', 'prefill']),
    fleet.start(['--engine', 'reference', '--role', 'decode']),
    fleet.start(['--engine', 'reference', '--role', 'decode']),
  ]);
  P = started[0]!;
  D = [started[1]!, started[2]!];
  tap = createBackendTap();
  const workers = [
    { name: 'p0', role: 'prefill', address: P.ready.grpc },
    { name: 'd0', role: 'decode', address: D[0]!.ready.grpc },
    { name: 'd1', role: 'decode', address: D[1]!.ready.grpc },
  ];
  running = await startOrchestrator(testConfig(workers, { disaggregation: { mode: 'always', decode_retries: 1 } }), {
    createBackend: tap.createBackend,
  });
  await allHealthy(running, ['p0', 'd0', 'd1']);
});

afterAll(async () => {
  await running?.close();
  await fleet.stopAll();
});

/** Prompt token ids (from the reference model's input vocabulary), distinct per seed. */
const prompt = (length: number, seed: number) =>
  Array.from({ length }, (_, i) => 1000 + ((seed * 7919 + i * 31) % 90_000));

let expectations = 0;
/**
 * What aggregated serving gives, computed by Generate on the prefill worker (greedy decoding is
 * deterministic on every worker; asking the prefill worker leaves the decode workers' caches, and
 * so the transfers asserted, untouched).
 */
async function expected(tokens: number[], maxTokens = MAX_TOKENS): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of P.grpc.generate({
    requestId: `expect-${++expectations}`,
    tokenIds: tokens,
    sampling: { maxTokens, temperature: 0 },
  }))
    out.push(...chunk.tokenIds);
  return out;
}

async function complete(
  requestId: string,
  tokens: number[],
  extra: Record<string, unknown> = {},
): Promise<{ status: number; tokens: number[]; body: any }> {
  const response = await fetch(`${running.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model: MODEL, prompt: tokens, max_tokens: MAX_TOKENS, temperature: 0, ...extra }),
  });
  const body = (await response.json()) as any;
  return { status: response.status, tokens: clientTokens(requestId), body };
}

/** The ids the client was sent, as the workers produced them: a prefill's first token, then every successful decode or generate. */
function clientTokens(requestId: string): number[] {
  const records = tap.of(requestId);
  const prefilled = records.find((r) => r.kind === 'prefill' && r.error === undefined);
  const decoded = records
    .filter((r) => (r.kind === 'decode' || r.kind === 'generate') && r.error === undefined)
    .flatMap((r) => r.tokens);
  return prefilled ? [prefilled.tokens[0]!, ...decoded] : decoded;
}

type Grpc = ServiceClient<typeof WorkerService>;
const statusOf = (client: Grpc) => client.getStatus({});

/** Every live worker holds nothing for a remote decode and runs nothing. */
async function expectBaseline(workers: readonly WorkerProcess[] = [P, ...D]): Promise<void> {
  for (const worker of workers) {
    const status = await waitFor(
      () => statusOf(worker.grpc),
      (s) => s.heldBlocks === 0 && s.runningRequests === 0 && s.waitingRequests === 0 && s.usedBlocks === 0,
      10_000,
      `worker ${worker.ready.grpc} back at its baseline`,
    );
    expect(status.heldBlocks).toBe(0);
  }
}

/** A counter sample from a worker's /metrics. */
async function workerCounter(worker: WorkerProcess, series: string): Promise<number> {
  const text = await (await fetch(`${worker.ready.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('failures of disaggregated requests, injected', () => {
  it('serves a healthy request disaggregated, as the baseline of what follows', async () => {
    const tokens = prompt(120, 1);
    const result = await complete('ok-1', tokens);
    expect(result.status).toBe(200);
    expect(result.tokens).toEqual(await expected(tokens));
    expect(requestLogs(running, 'ok-1')[0]).toMatchObject({
      mode: 'disaggregated',
      prefill: 'p0',
      kvRecomputed: false,
      transferredBlocks: 8,
    });
    await expectBaseline();
  });

  it('falls back to aggregated serving on the decode worker when the prefill fails', async () => {
    const tokens = prompt(90, 2);
    tap.hooks = {
      before: (kind, _worker, call) => {
        if (kind === 'prefill' && call.requestId === 'prefill-fails')
          throw new TandemError('unavailable', 'injected: the prefill worker is gone');
      },
    };
    const result = await complete('prefill-fails', tokens);
    tap.hooks = {};
    expect(result.status).toBe(200);
    expect(result.tokens).toEqual(await expected(tokens));
    const records = tap.of('prefill-fails');
    expect(records.map((r) => r.kind)).toEqual(['prefill', 'generate']);
    expect(records[1]!.worker).toMatch(/^d/);
    expect(
      requestLogs(running, 'prefill-fails', 'prefill failed: serving the request aggregated on the decode worker'),
    ).toHaveLength(1);
    expect(requestLogs(running, 'prefill-fails')[0]).toMatchObject({ mode: 'aggregated', worker: records[1]!.worker });
    await expectBaseline();
  });

  it('recomputes on the decode worker when the KV transfer fails, and releases the prefill side', async () => {
    const tokens = prompt(100, 3);
    // The handoff names a block server that refuses connections: the decode worker's TCP read fails.
    tap.hooks = {
      afterPrefill: (_worker, result) => {
        const handoff = result.handoff as { kind: 'tandem'; handoff: { port: number } } | null;
        if (handoff) handoff.handoff.port = 1;
        return result;
      },
    };
    const result = await complete('transfer-fails', tokens);
    tap.hooks = {};
    expect(result.status).toBe(200);
    expect(result.tokens).toEqual(await expected(tokens));
    expect(requestLogs(running, 'transfer-fails')[0]).toMatchObject({
      mode: 'disaggregated',
      kvRecomputed: true,
      transferredBlocks: 0,
    });
    // Nobody pulled the blocks: the orchestrator's ReleaseKv frees them.
    const release = tap.records.find(
      (r) =>
        r.kind === 'release' &&
        r.requestId === (tap.of('transfer-fails')[0]!.handoff as { remoteRequestId: string }).remoteRequestId,
    );
    expect(release?.worker).toBe('p0');
    await expectBaseline();
  });

  it('moves the decode to the other decode worker, with the same handoff, when the first fails before its first token', async () => {
    const tokens = prompt(130, 4);
    let failed: string | undefined;
    tap.hooks = {
      before: (kind, worker, call) => {
        if (kind === 'decode' && call.requestId === 'decode-fails' && failed === undefined) {
          failed = worker;
          throw new TandemError('unavailable', `injected: decode worker ${worker} died`);
        }
      },
    };
    const result = await complete('decode-fails', tokens);
    tap.hooks = {};
    expect(result.status).toBe(200);
    expect(result.tokens).toEqual(await expected(tokens));
    const decodes = tap.of('decode-fails').filter((r) => r.kind === 'decode');
    expect(decodes).toHaveLength(2);
    expect(decodes[0]!.worker).toBe(failed);
    expect(decodes[1]!.worker).not.toBe(failed);
    expect(decodes[1]!.handoff).toEqual(decodes[0]!.handoff);
    // The blocks were still held: the second decode worker pulled them rather than recomputing.
    expect(requestLogs(running, 'decode-fails')[0]).toMatchObject({
      mode: 'disaggregated',
      decode: decodes[1]!.worker,
      decodeRetries: 1,
      kvRecomputed: false,
      transferredBlocks: 9,
    });
    await expectBaseline();
  });

  it('cancels the decode and frees every block when the client goes away mid-stream', async () => {
    const tokens = prompt(80, 5);
    const abortsBefore = await Promise.all(
      D.map((d) => workerCounter(d, 'vllm:request_success_total{finished_reason="abort"')),
    );
    const controller = new AbortController();
    const response = await fetch(`${running.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-leaves' },
      body: JSON.stringify({
        model: MODEL,
        prompt: tokens,
        max_tokens: 3000,
        ignore_eos: true,
        temperature: 0,
        stream: true,
      }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    // Wait for a few tokens past the first (which the prefill worker produced).
    while ((text.match(/"text"/g) ?? []).length < 4) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await expectBaseline();
    const decode = tap.of('client-leaves').find((r) => r.kind === 'decode')!;
    await waitFor(
      () => decode.error,
      (error) => error !== undefined,
      10_000,
      'the decode call to end',
    );
    expect(decode.tokens.length).toBeLessThan(3000);
    const abortsAfter = await Promise.all(
      D.map((d) => workerCounter(d, 'vllm:request_success_total{finished_reason="abort"')),
    );
    expect(abortsAfter.reduce((a, b) => a + b, 0)).toBe(abortsBefore.reduce((a, b) => a + b, 0) + 1);
    await waitFor(
      () => requestLogs(running, 'client-leaves', 'disaggregated request cancelled'),
      (lines) => lines.length === 1 && lines[0]!.phase === 'decode',
      5000,
      'the cancellation log',
    );
  });

  it('cancels the prefill and holds nothing when the client goes away during the prefill', async () => {
    const tokens = prompt(3000, 6);
    const abortsBefore = await workerCounter(P, 'vllm:request_success_total{finished_reason="abort"');
    const controller = new AbortController();
    let prefillStarted!: () => void;
    const started = new Promise<void>((resolve) => (prefillStarted = resolve));
    tap.hooks = {
      before: (kind, _worker, call) => {
        if (kind === 'prefill' && call.requestId === 'leaves-early') prefillStarted();
      },
    };
    const request = fetch(`${running.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'leaves-early' },
      body: JSON.stringify({ model: MODEL, prompt: tokens, max_tokens: MAX_TOKENS, temperature: 0 }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await started;
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await request;
    tap.hooks = {};
    await expectBaseline();
    expect(tap.of('leaves-early').map((r) => r.kind)).toEqual(['prefill']);
    expect(requestLogs(running, 'leaves-early', 'disaggregated request cancelled')[0]).toMatchObject({
      phase: 'prefill',
    });
    await waitFor(
      () => workerCounter(P, 'vllm:request_success_total{finished_reason="abort"'),
      (n) => n === abortsBefore + 1,
      10_000,
      'the prefill worker to count the abort',
    );
  });

  it('recomputes on the decode worker when the prefill worker dies right after the handoff', async () => {
    const tokens = prompt(110, 7);
    const want = await expected(tokens);
    tap.hooks = {
      afterPrefill: async (_worker, result) => {
        // The handoff is in hand; its holder is gone before the decode worker can read a block.
        await P.stop('SIGKILL');
        return result;
      },
    };
    const result = await complete('prefill-dies', tokens);
    tap.hooks = {};
    expect(result.status).toBe(200);
    expect(result.tokens).toEqual(want);
    expect(requestLogs(running, 'prefill-dies')[0]).toMatchObject({
      mode: 'disaggregated',
      kvRecomputed: true,
      transferredBlocks: 0,
    });
    await expectBaseline(D);
  });
});
