import { describe, expect, it } from 'vitest';
import { createBackendTap, type BackendTap } from './fakes/backend-tap.ts';
import { expectedTokens, startFakePdEngine, type FakePdEngine, type PdFlavour } from './fakes/fake-pd-engine.ts';
import {
  allHealthy,
  MODEL,
  requestLogs,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * The two other handoff protocols behind the same interface, end to end through the
 * orchestrator against engines that rendezvous as the real ones do (test/fakes/fake-pd-engine.ts:
 * a decode that met the wrong prefill, or none, produces other tokens):
 * - vLLM's P2pNcclConnector: one X-Request-Id naming both engines' zmq addresses, the prefill a
 *   `max_tokens: 1` copy, then the original body to the decode engine.
 * - SGLang's bootstrap flow: the same body plus bootstrap host/port/room to both, sent together;
 *   a prefill that fails drops the decode.
 */
const cleanups = cleanupsAfter('each');

async function deploy(
  flavour: PdFlavour,
): Promise<{ P: FakePdEngine; D: FakePdEngine; running: RunningOrchestrator; tap: BackendTap }> {
  const [P, D] = await Promise.all([
    startFakePdEngine({ flavour, mode: 'prefill' }),
    startFakePdEngine({ flavour, mode: 'decode', waitMs: 2000 }),
  ]);
  cleanups.push(
    () => P.close(),
    () => D.close(),
  );
  const kv = (engine: FakePdEngine) =>
    flavour === 'p2p-nccl'
      ? { protocol: flavour, nccl_address: engine.ncclAddress }
      : { protocol: flavour, bootstrap_port: engine.bootstrapPort };
  const workers = [
    { name: 'p0', role: 'prefill', backend: 'vllm-http', address: P.url, kv_transfer: kv(P) },
    { name: 'd0', role: 'decode', backend: 'vllm-http', address: D.url, kv_transfer: kv(D) },
  ];
  const tap = createBackendTap();
  const running = await startOrchestrator(testConfig(workers, { disaggregation: { mode: 'always' } }), {
    createBackend: tap.createBackend,
  });
  cleanups.push(() => running.close());
  await allHealthy(running, ['p0', 'd0']);
  return { P, D, running, tap };
}

const prompt = (seed: number) => Array.from({ length: 70 }, (_, i) => 1000 + seed * 100 + i);

async function stream(
  url: string,
  requestId: string,
  tokens: number[],
  extra: Record<string, unknown> = {},
): Promise<{ status: number; usage: any }> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({
      model: MODEL,
      prompt: tokens,
      max_tokens: 6,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ...extra,
    }),
  });
  const text = await response.text();
  const events = text
    .split('\n\n')
    .filter((b) => b.startsWith('data: {'))
    .map((b) => JSON.parse(b.slice(6)) as { usage?: unknown });
  return { status: response.status, usage: events.at(-1)?.usage };
}

/** The ids the client got: a first token from the prefill (when not repeated by the decode), then the decode's. */
function clientTokens(tap: BackendTap, requestId: string, repeatDropped: boolean): number[] {
  const records = tap.of(requestId).filter((r) => r.error === undefined);
  const prefilled = records.find((r) => r.kind === 'generate' && r.worker === 'p0');
  const decoded = records.filter((r) => r.worker === 'd0').flatMap((r) => r.tokens);
  return repeatDropped && prefilled ? [prefilled.tokens[0]!, ...decoded.slice(1)] : decoded;
}

describe('p2p-nccl: peers named in one X-Request-Id', () => {
  it('prefills a max_tokens 1 copy, then decodes the original body, the KV pushed from P to D under that id', async () => {
    const { P, D, running, tap } = await deploy('p2p-nccl');
    const tokens = prompt(1);
    const result = await stream(running.url, 'nccl-1', tokens, { min_tokens: 2 });
    expect(result.status).toBe(200);
    expect(result.usage).toMatchObject({ completion_tokens: 6 });
    const [p] = P.requests;
    const [d] = D.requests;
    const id = String(p!.headers['x-request-id']);
    expect(id).toMatch(new RegExp(`^___prefill_addr_${P.ncclAddress}___decode_addr_${D.ncclAddress}_[0-9a-f]{32}$`));
    expect(d!.headers['x-request-id']).toBe(id);
    expect(p!.body).toMatchObject({ max_tokens: 1, min_tokens: 1, prompt: tokens });
    expect(d!.body).toMatchObject({ max_tokens: 6, min_tokens: 2, stream: true, prompt: tokens });
    expect(d!.body).not.toHaveProperty('kv_transfer_params');
    // D decoded from the KV P pushed to it, and the client got aggregated serving's tokens.
    expect(d!.kvReceived).toBe(true);
    // Both worker calls carried the connector's id (the client's X-Request-Id stays the orchestrator's).
    expect(tap.of(id).map((r) => r.kind)).toEqual(['generate', 'generate']);
    expect(clientTokens(tap, id, true)).toEqual(expectedTokens(tokens, 6));
    expect(requestLogs(running, 'nccl-1')[0]).toMatchObject({
      mode: 'disaggregated',
      protocol: 'p2p-nccl',
      prefill: 'p0',
      decode: 'd0',
    });
    // A fresh id per request.
    await stream(running.url, 'nccl-2', prompt(2));
    expect(P.requests[1]!.headers['x-request-id']).not.toBe(id);
  });
});

describe('sglang: bootstrap host, port and room', () => {
  it('sends the same body with one bootstrap room to both workers at once and streams the decode', async () => {
    const { P, D, running, tap } = await deploy('sglang');
    // The prefill takes a while: the decode request must already be waiting on the room.
    P.behaviour.delayMs = 150;
    const tokens = prompt(3);
    const result = await stream(running.url, 'sglang-1', tokens);
    expect(result.status).toBe(200);
    expect(result.usage).toMatchObject({ completion_tokens: 6 });
    const [p] = P.requests;
    const [d] = D.requests;
    const bootstrap = { bootstrap_host: '127.0.0.1', bootstrap_port: P.bootstrapPort };
    expect(p!.body).toMatchObject({ ...bootstrap, max_tokens: 6, prompt: tokens });
    expect(d!.body).toMatchObject({ ...bootstrap, max_tokens: 6, prompt: tokens });
    const room = p!.body.bootstrap_room as number;
    expect(d!.body.bootstrap_room).toBe(room);
    expect(Number.isInteger(room) && room >= 0 && room < 2 ** 63).toBe(true);
    expect(d!.receivedAtMs).toBeLessThan(p!.finishedAtMs!);
    expect(d!.kvReceived).toBe(true);
    // The decode stream carries every token, the first included.
    expect(clientTokens(tap, 'sglang-1', false)).toEqual(expectedTokens(tokens, 6));
    expect(requestLogs(running, 'sglang-1')[0]).toMatchObject({ mode: 'disaggregated', protocol: 'sglang' });
    await stream(running.url, 'sglang-2', prompt(4));
    expect(P.requests[1]!.body.bootstrap_room).not.toBe(room);
  });

  it('drops the decode when the prefill fails, then serves the request aggregated on the decode worker', async () => {
    const { P, D, running, tap } = await deploy('sglang');
    P.behaviour.failStatus = 500;
    const tokens = prompt(5);
    const result = await stream(running.url, 'sglang-fails', tokens);
    expect(result.status).toBe(200);
    // The decode request that waited on the room was closed by the orchestrator, not left waiting.
    expect(D.requests[0]!.body.bootstrap_room).toBe(P.requests[0]!.body.bootstrap_room);
    expect(D.requests[0]!.closedEarly).toBe(true);
    expect(D.requests[0]!.kvReceived).toBe(false);
    // The fallback: a plain request on the decode worker.
    expect(D.requests[1]!.body).not.toHaveProperty('bootstrap_room');
    expect(clientTokens(tap, 'sglang-fails', false)).toEqual(expectedTokens(tokens, 6));
    expect(requestLogs(running, 'sglang-fails')[0]).toMatchObject({ mode: 'aggregated', worker: 'd0' });
  });
});
