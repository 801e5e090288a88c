import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackendTap, type BackendTap } from './fakes/backend-tap.ts';
import {
  allHealthy,
  MODEL,
  requestLogs,
  sample,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * Disaggregation proved exact end to end: reference workers (a tiny real transformer with real
 * float32 KV) as separate `tandem worker --engine reference` processes behind the whole
 * orchestrator (real frontend over HTTP, dispatcher, gRPC backends, KV events). The same 24
 * prompts (one shorter than a block, several many blocks long, groups sharing a system prompt)
 * are served in mode `never` (aggregated on the decode worker) and in mode `always` (prefill on
 * the prefill worker, its KV read by the decode worker over TCP by block id, decode there), and
 * the token sequences must be identical.
 *
 * Each mode gets a decode worker with an empty cache, so the `never` run computes every prompt on
 * its decode worker and the `always` run computes it on the prefill worker alone: two
 * independent computations, which only agree if the handoff's block ids, ordering and bytes are
 * right. Within the `always` run, prompts sharing a prefix find it cached on the decode worker
 * and pull only the blocks it lacks.
 */
const fleet = createWorkerFleet();
let prefill: WorkerProcess;
const decoders: WorkerProcess[] = [];
const MAX_TOKENS = 12;

const system =
  'You are Tandem, a careful assistant who explains how large language models are served across many machines, with exact figures. ';
const longSystem =
  `${system}Prefill computes the KV cache of the whole prompt in one compute-bound pass; decode then produces one token per step and is bound by memory bandwidth. `.repeat(
    4,
  );
const PROMPTS = [
  'Hi',
  'What is a KV cache?',
  `${system}What is a KV cache and why does prefill produce it?`,
  `${system}How does a decode worker pull blocks from a prefill worker?`,
  `${system}Why is decoding memory-bound while prefill is compute-bound?`,
  `${system}Explain chunked prefill in two sentences.`,
  `${system}What does the router do with KV events?`,
  `${system}Compare NIXL and NCCL for moving KV blocks.`,
  'The quick brown fox jumps over the lazy dog. '.repeat(8),
  'The quick brown fox jumps over the lazy dog. '.repeat(20),
  'The quick brown fox jumps over the lazy dog. '.repeat(30),
  `${longSystem}Question one: what is TTFT?`,
  `${longSystem}Question two: what is ITL?`,
  `${longSystem}Question three: when does disaggregation pay off?`,
  `${longSystem}Question four: what limits the batch size?`,
  'Count: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25.',
  'Translate to French: the cache holds the keys and values of every token seen so far.',
  'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(10))',
  `Summarize: ${'Workers announce their cached blocks over ZMQ; the router indexes them by hash. '.repeat(6)}`,
  'A',
  'Why?',
  `${system}${'Add some more context about pools and planners. '.repeat(10)}Now answer briefly.`,
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.',
  'Ends with a newline\n',
];

beforeAll(async () => {
  const started = await Promise.all([
    fleet.start(['--engine', 'reference', '--role', 'prefill']),
    fleet.start(['--engine', 'reference', '--role', 'decode']),
    fleet.start(['--engine', 'reference', '--role', 'decode']),
  ]);
  prefill = started[0]!;
  decoders.push(started[1]!, started[2]!);
});

afterAll(async () => {
  await fleet.stopAll();
});

interface Served {
  readonly text: string;
  /** Token ids as the workers produced them for the client, in order. */
  readonly tokens: number[];
  readonly promptTokens: number;
}

/** The ids the client was sent for a request: the prefill's first token (gRPC decodes continue after it), then every decode or generate token. */
function servedTokens(tap: BackendTap, requestId: string): number[] {
  const records = tap.of(requestId);
  const prefilled = records.find((r) => r.kind === 'prefill' && r.error === undefined);
  const streamed = records
    .filter((r) => (r.kind === 'decode' || r.kind === 'generate') && r.error === undefined)
    .flatMap((r) => r.tokens);
  return prefilled ? [prefilled.tokens[0]!, ...streamed] : streamed;
}

async function complete(
  url: string,
  prompt: string,
  requestId: string,
  stream: boolean,
): Promise<{ text: string; promptTokens: number }> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({
      model: MODEL,
      prompt,
      max_tokens: MAX_TOKENS,
      temperature: 0,
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    }),
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  if (!stream) {
    const body = JSON.parse(text) as { choices: { text: string }[]; usage: { prompt_tokens: number } };
    return { text: body.choices[0]!.text, promptTokens: body.usage.prompt_tokens };
  }
  const events = text
    .split('\n\n')
    .filter((b) => b.startsWith('data: ') && b !== 'data: [DONE]')
    .map((b) => JSON.parse(b.slice(6)) as { choices: { text: string }[]; usage?: { prompt_tokens: number } | null });
  return {
    text: events.flatMap((e) => e.choices.map((c) => c.text)).join(''),
    promptTokens: events.at(-1)!.usage!.prompt_tokens,
  };
}

/** Serves every prompt through a fresh orchestrator in `mode`, four at a time, alternating JSON and SSE. */
async function serveAll(
  mode: 'never' | 'always',
  decoder: WorkerProcess,
): Promise<{ served: Map<number, Served>; running: RunningOrchestrator; tap: BackendTap }> {
  const tap = createBackendTap();
  const workers = [
    { name: 'p0', role: 'prefill', address: prefill.ready.grpc },
    { name: 'd0', role: 'decode', address: decoder.ready.grpc },
  ];
  const running = await startOrchestrator(testConfig(workers, { disaggregation: { mode } }), {
    createBackend: tap.createBackend,
  });
  await allHealthy(running, ['p0', 'd0']);
  const served = new Map<number, Served>();
  let next = 0;
  const lane = async () => {
    while (next < PROMPTS.length) {
      const i = next++;
      const requestId = `${mode}-${i}`;
      const out = await complete(running.url, PROMPTS[i]!, requestId, i % 2 === 1);
      served.set(i, { text: out.text, tokens: servedTokens(tap, requestId), promptTokens: out.promptTokens });
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  return { served, running, tap };
}

describe('disaggregated output equals aggregated output, token for token, on reference workers', () => {
  let never: Awaited<ReturnType<typeof serveAll>>;
  let always: Awaited<ReturnType<typeof serveAll>>;

  afterAll(async () => {
    await never?.running.close();
    await always?.running.close();
  });

  it('serves every prompt aggregated on the decode worker in mode never', async () => {
    never = await serveAll('never', decoders[0]!);
    for (let i = 0; i < PROMPTS.length; i++) {
      const [line] = requestLogs(never.running, `never-${i}`);
      expect(line, `never-${i}`).toMatchObject({ mode: 'aggregated', worker: 'd0' });
    }
    expect(never.tap.records.filter((r) => r.kind === 'prefill')).toHaveLength(0);
  });

  it('serves every prompt disaggregated in mode always, pulling the KV over TCP', async () => {
    always = await serveAll('always', decoders[1]!);
    let pulled = 0;
    for (let i = 0; i < PROMPTS.length; i++) {
      const [line] = requestLogs(always.running, `always-${i}`);
      expect(line, `always-${i}`).toMatchObject({
        mode: 'disaggregated',
        protocol: 'tandem',
        prefill: 'p0',
        decode: 'd0',
        kvRecomputed: false,
      });
      pulled += line!.transferredBlocks as number;
      const [pre] = always.tap.of(`always-${i}`).filter((r) => r.kind === 'prefill');
      // The handoff names the prefill worker's TCP block server.
      expect((pre!.handoff as { handoff: { transport: number } }).handoff.transport).toBe(3);
    }
    const metrics = await (await fetch(`${always.running.url}/metrics`)).text();
    expect(sample(metrics, 'tandem_kv_transfer_blocks_total')).toBe(pulled);
    expect(sample(metrics, 'tandem_kv_transfer_bytes_total')).toBe(pulled * 6144);
    expect(sample(metrics, 'tandem_requests_total{outcome="success",mode="disaggregated"}')).toBe(PROMPTS.length);
  });

  it('gives identical token sequences in both modes, for short, long and prefix-sharing prompts', () => {
    const lengths = [...never.served.values()].map((s) => s.promptTokens);
    expect(Math.min(...lengths)).toBeLessThan(16);
    expect(lengths.filter((n) => n > 4 * 16).length).toBeGreaterThanOrEqual(6);
    for (let i = 0; i < PROMPTS.length; i++) {
      const a = never.served.get(i)!;
      const d = always.served.get(i)!;
      expect(a.tokens.length, `prompt ${i}`).toBeGreaterThan(0);
      expect(d.tokens, `prompt ${i}`).toEqual(a.tokens);
      expect(d.text, `prompt ${i}`).toBe(a.text);
    }
  });

  it('pulls only the blocks the decode worker lacks when it already caches a shared prefix', () => {
    // Prompts 12-14 share longSystem with prompt 11 (served earlier or concurrently): at least one pulled fewer blocks than its prompt has.
    const partial = [11, 12, 13, 14].map((i) => {
      const [line] = requestLogs(always.running, `always-${i}`);
      return (line!.transferredBlocks as number) < Math.ceil((line!.promptTokens as number) / 16);
    });
    expect(partial.some(Boolean)).toBe(true);
  });

  it('leaves no blocks held or in use on any worker', async () => {
    for (const worker of [prefill, ...decoders]) {
      const status = await waitFor(
        () => worker.grpc.getStatus({}),
        (s) => s.heldBlocks === 0 && s.usedBlocks === 0 && s.runningRequests === 0,
        10_000,
        'an idle worker',
      );
      expect(status.heldBlocks).toBe(0);
    }
  });
});
