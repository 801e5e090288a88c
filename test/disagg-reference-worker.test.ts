import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FinishReason, KvTransport, type KvHandoff } from '../proto/gen/tandem/v1/worker_pb.ts';
import { createKvBlockLayout, DEFAULT_REFERENCE_MODEL_CONFIG, toProtoKvLayout } from '../workers/reference/index.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * `tandem worker --engine reference` as a real process: GetStatus reports its TCP block server,
 * Prefill answers a TCP handoff naming that server, and another reference worker's Decode pulls
 * the blocks over TCP by itself (no PullKv / ReleaseKv detour) and continues exactly where an
 * aggregated Generate would. The same over the HTTP facade: `kv_transfer_params` marked
 * `tandem_transport: "tcp"`. After each, the prefill side holds no blocks.
 */
const fleet = createWorkerFleet();
let A: WorkerProcess;
let B: WorkerProcess;
const MODEL = 'Qwen/Qwen3-8B';
const SAMPLING = { maxTokens: 12, temperature: 0 };
/** One KV block of the model the workers run (the default reference model) at their 16-token blocks. */
const { numLayers, numKvHeads, headDim } = DEFAULT_REFERENCE_MODEL_CONFIG;
const LAYOUT = createKvBlockLayout({ numLayers, numKvHeads, headDim, blockSize: 16 });
const prompt = (length: number, offset = 0) => Array.from({ length }, (_, i) => 3000 + ((offset + i * 7) % 5000));

beforeAll(async () => {
  [A, B] = await Promise.all([
    fleet.start(['--engine', 'reference', '--role', 'prefill']),
    fleet.start(['--engine', 'reference', '--role', 'decode']),
  ]);
});

afterAll(async () => {
  await fleet.stopAll();
});

async function generate(worker: WorkerProcess, requestId: string, tokenIds: number[]): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of worker.grpc.generate({ requestId, tokenIds, sampling: SAMPLING }))
    out.push(...chunk.tokenIds);
  return out;
}

describe('the reference engine behind the worker process', () => {
  it('reports its block server in GetStatus and hands off over TCP', async () => {
    const status = await A.grpc.getStatus({});
    expect(status.engineKind).toBe('reference');
    expect(status.kvTransferPort).toBeGreaterThan(0);
    const tokens = prompt(70);
    const pre = await A.grpc.prefill({ requestId: 'ref-tcp-1', tokenIds: tokens, sampling: SAMPLING });
    const handoff = pre.handoff!;
    expect(handoff.transport).toBe(KvTransport.TCP);
    expect(`${handoff.host}:${handoff.port}`).toBe(`127.0.0.1:${status.kvTransferPort}`);
    expect(handoff.remoteEngineId).toBe(A.ready.engine_id);
    expect(handoff.blockGroups[0]!.blockIds).toHaveLength(Math.ceil(70 / LAYOUT.blockSize));
    expect(handoff.layout).toEqual(toProtoKvLayout(LAYOUT));
    expect((await A.grpc.getStatus({})).heldBlocks).toBe(5);
    // A Prefill asking for SIM gets a clear refusal from a TCP worker.
    await expect(
      A.grpc.prefill({ requestId: 'ref-tcp-sim', tokenIds: tokens, sampling: SAMPLING, transport: KvTransport.SIM }),
    ).rejects.toThrow(/transport TCP only/);

    const decoded: number[] = [];
    let usage;
    for await (const chunk of B.grpc.decode({
      requestId: 'ref-tcp-1',
      tokenIds: tokens,
      sampling: SAMPLING,
      handoff,
      firstTokenId: pre.firstTokenId,
    })) {
      decoded.push(...chunk.tokenIds);
      if (chunk.finishReason !== FinishReason.UNSPECIFIED) usage = chunk.usage;
    }
    expect(usage).toMatchObject({ transferredBlocks: 5, transferredPromptTokens: 70, kvRecomputed: false });
    expect([pre.firstTokenId, ...decoded]).toEqual(await generate(A, 'ref-agg-1', tokens));
    await waitFor(
      () => A.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'A to free the pulled blocks',
    );
  });

  it('recomputes on the decode side when the handoff names a block server that is gone', async () => {
    const tokens = prompt(40, 11);
    const pre = await A.grpc.prefill({ requestId: 'ref-tcp-2', tokenIds: tokens, sampling: SAMPLING });
    const broken: KvHandoff = { ...pre.handoff!, port: 1 };
    const decoded: number[] = [];
    let recomputed = false;
    for await (const chunk of B.grpc.decode({
      requestId: 'ref-tcp-2',
      tokenIds: tokens,
      sampling: SAMPLING,
      handoff: broken,
      firstTokenId: pre.firstTokenId,
    })) {
      decoded.push(...chunk.tokenIds);
      if (chunk.usage) recomputed = chunk.usage.kvRecomputed;
    }
    expect(recomputed).toBe(true);
    expect([pre.firstTokenId, ...decoded]).toEqual(await generate(A, 'ref-agg-2', tokens));
    // Nobody pulled: the hold stays until released (the orchestrator does it with ReleaseKv).
    expect((await A.grpc.getStatus({})).heldBlocks).toBe(3);
    expect(await A.grpc.releaseKv({ remoteRequestId: pre.handoff!.remoteRequestId })).toMatchObject({
      found: true,
      releasedBlocks: 3,
    });
    expect((await A.grpc.getStatus({})).heldBlocks).toBe(0);
  });

  it('marks TCP in kv_transfer_params over HTTP, and the decode worker pulls from the block server itself', async () => {
    const tokens = prompt(50, 23);
    const post = async (worker: WorkerProcess, body: Record<string, unknown>) => {
      const response = await fetch(`${worker.ready.http}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'ref-http-1' },
        body: JSON.stringify({ model: MODEL, prompt: tokens, temperature: 0, return_token_ids: true, ...body }),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, any>;
    };
    const p = await post(A, { max_tokens: 1, stream: false, kv_transfer_params: { do_remote_decode: true } });
    const params = p.kv_transfer_params as Record<string, any>;
    const status = await A.grpc.getStatus({});
    expect(params).toMatchObject({
      do_remote_prefill: true,
      remote_host: '127.0.0.1',
      remote_port: status.kvTransferPort,
      tandem_transport: 'tcp',
      tandem_kv_layout: { dtype: 'float32', block_bytes: LAYOUT.blockBytes },
    });
    const d = await post(B, { max_tokens: 12, kv_transfer_params: params });
    // The decode side samples the first token again, as vLLM's does: the whole output is B's.
    expect(d.choices[0].token_ids).toEqual(await generate(A, 'ref-agg-3', tokens));
    expect(d.usage.prompt_tokens_details.cached_tokens).toBe(50);
    await waitFor(
      () => A.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'A to free the pulled blocks',
    );
  });
});
