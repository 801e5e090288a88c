import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FinishReason,
  KvLoadFailurePolicy,
  KvTransport,
  WorkerRole,
  type KvHandoff,
  type TokenChunk,
} from '../proto/gen/tandem/v1/worker_pb.ts';
import { GrpcStatus, RpcError } from '../proto/grpc/index.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * Two worker processes, a prefill one and a decode one, over real gRPC: Prefill -> Decode with
 * the KV pulled (PullKv) and released (ReleaseKv), recompute when the pull cannot happen, and
 * GetStatus. Time runs 50x faster than modelled so requests take milliseconds.
 */
const fleet = createWorkerFleet();
const COMMON = ['--time-scale', '50', '--num-gpu-blocks', '512'];
let prefill: WorkerProcess;
let decode: WorkerProcess;
const testStartMs = Date.now();

const prompt = (length: number, offset = 0) => Array.from({ length }, (_, i) => 1000 + offset + i);
const sampling = (maxTokens: number) => ({ maxTokens });

async function collect(stream: AsyncIterable<TokenChunk>): Promise<{ tokens: number[]; last: TokenChunk }> {
  const tokens: number[] = [];
  let last: TokenChunk | undefined;
  for await (const chunk of stream) {
    tokens.push(...chunk.tokenIds);
    last = chunk;
  }
  return { tokens, last: last! };
}

beforeAll(async () => {
  [prefill, decode] = await Promise.all([
    fleet.start([...COMMON, '--role', 'prefill']),
    fleet.start([...COMMON, '--role', 'decode']),
  ]);
});

afterAll(async () => {
  await fleet.stopAll();
});

describe('disaggregated serving over gRPC between two worker processes', () => {
  it('completes a request through Prefill then Decode, with the tokens aggregated serving gives, and frees the prefill side', async () => {
    const tokens = prompt(300);
    const pre = await prefill.grpc.prefill({ requestId: 'pd-1', tokenIds: tokens, sampling: sampling(8) });
    const handoff = pre.handoff!;
    expect(pre.finishReason).toBe(FinishReason.UNSPECIFIED);
    expect(handoff.transport).toBe(KvTransport.SIM);
    expect(handoff.remoteEngineId).toBe(prefill.ready.engine_id);
    expect(`${handoff.host}:${handoff.port}`).toBe(prefill.ready.grpc);
    expect(handoff.blockGroups[0]!.blockIds).toHaveLength(Math.ceil(300 / 16));
    expect(handoff.numTokens).toBe(300);
    expect(handoff.layout).toMatchObject({
      numLayers: 36,
      numKvHeads: 8,
      headDim: 128,
      dtype: 'bfloat16',
      blockBytes: 2 * 36 * 8 * 128 * 2 * 16,
    });
    expect(handoff.expiresAtUnixMs).toBeGreaterThan(Date.now() + 400_000);
    expect((await prefill.grpc.getStatus({})).heldBlocks).toBe(19);

    const decoded = await collect(
      decode.grpc.decode({
        requestId: 'pd-1',
        tokenIds: tokens,
        sampling: sampling(8),
        handoff,
        firstTokenId: pre.firstTokenId,
      }),
    );
    expect(decoded.last.finishReason).toBe(FinishReason.LENGTH);
    expect(decoded.tokens).toHaveLength(7);
    expect(decoded.last.usage).toMatchObject({
      promptTokens: 300,
      completionTokens: 8,
      transferredBlocks: 19,
      transferredPromptTokens: 300,
      kvRecomputed: false,
    });

    const aggregated = await collect(
      prefill.grpc.generate({ requestId: 'agg-1', tokenIds: tokens, sampling: sampling(8) }),
    );
    expect([pre.firstTokenId, ...decoded.tokens]).toEqual(aggregated.tokens);

    await waitFor(
      () => prefill.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'the prefill worker to release its blocks',
    );
  });

  it('pulls only the blocks missing from its own prefix cache', async () => {
    // The decode worker caches this prompt's 18 full blocks from the previous test.
    const tokens = [...prompt(300), ...prompt(100, 5000)];
    const pre = await prefill.grpc.prefill({ requestId: 'pd-2', tokenIds: tokens, sampling: sampling(4) });
    const decoded = await collect(
      decode.grpc.decode({
        requestId: 'pd-2',
        tokenIds: tokens,
        sampling: sampling(4),
        handoff: pre.handoff!,
        firstTokenId: pre.firstTokenId,
      }),
    );
    const usage = decoded.last.usage!;
    expect(usage.cachedPromptTokens).toBe(18 * 16);
    expect(usage.transferredBlocks).toBe(Math.ceil(400 / 16) - 18);
    expect(usage.kvRecomputed).toBe(false);
    await waitFor(
      () => prefill.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'the prefill worker to release its blocks',
    );
  });

  it('answers PullKv without releasing, and ReleaseKv once', async () => {
    const pre = await prefill.grpc.prefill({ requestId: 'pull-1', tokenIds: prompt(40, 9000), sampling: sampling(4) });
    const id = pre.handoff!.remoteRequestId;
    expect(await prefill.grpc.pullKv({ remoteRequestId: id, remoteEngineId: prefill.ready.engine_id })).toMatchObject({
      held: true,
      numBlocks: 3,
      numTokens: 40,
    });
    expect(await prefill.grpc.pullKv({ remoteRequestId: id, remoteEngineId: prefill.ready.engine_id })).toMatchObject({
      held: true,
    });
    expect((await prefill.grpc.pullKv({ remoteRequestId: id, remoteEngineId: 'another-incarnation' })).held).toBe(
      false,
    );
    expect(await prefill.grpc.releaseKv({ remoteRequestId: id })).toMatchObject({ found: true, releasedBlocks: 3 });
    expect(await prefill.grpc.releaseKv({ remoteRequestId: id })).toMatchObject({ found: false, releasedBlocks: 0 });
    expect((await prefill.grpc.pullKv({ remoteRequestId: id, remoteEngineId: '' })).held).toBe(false);
  });

  it('holds nothing when the first token already finishes the request (max_tokens 1)', async () => {
    const pre = await prefill.grpc.prefill({ requestId: 'one', tokenIds: prompt(64, 12_000), sampling: sampling(1) });
    expect(pre.finishReason).toBe(FinishReason.LENGTH);
    expect(pre.handoff).toBeUndefined();
    expect((await prefill.grpc.getStatus({})).heldBlocks).toBe(0);
  });
});

describe('decode when the pull cannot happen', () => {
  const decodeAfter = async (
    handoff: KvHandoff,
    tokens: number[],
    firstTokenId: number,
    id: string,
    policy = KvLoadFailurePolicy.UNSPECIFIED,
  ) =>
    collect(
      decode.grpc.decode({
        requestId: id,
        tokenIds: tokens,
        sampling: sampling(6),
        handoff,
        firstTokenId,
        loadFailurePolicy: policy,
      }),
    );

  it('recomputes the prompt when the prefill worker already released the blocks', async () => {
    const tokens = prompt(200, 20_000);
    const pre = await prefill.grpc.prefill({ requestId: 'rel', tokenIds: tokens, sampling: sampling(6) });
    await prefill.grpc.releaseKv({ remoteRequestId: pre.handoff!.remoteRequestId });
    const decoded = await decodeAfter(pre.handoff!, tokens, pre.firstTokenId, 'rel');
    expect(decoded.last.usage).toMatchObject({ kvRecomputed: true, transferredBlocks: 0, completionTokens: 6 });
    const aggregated = await collect(
      decode.grpc.generate({ requestId: 'rel-agg', tokenIds: tokens, sampling: sampling(6) }),
    );
    expect([pre.firstTokenId, ...decoded.tokens]).toEqual(aggregated.tokens);
  });

  it('recomputes when the handoff names another incarnation of the prefill engine', async () => {
    const tokens = prompt(120, 30_000);
    const pre = await prefill.grpc.prefill({ requestId: 'inc', tokenIds: tokens, sampling: sampling(6) });
    const decoded = await decodeAfter(
      { ...pre.handoff!, remoteEngineId: `${pre.handoff!.remoteEngineId}-old` },
      tokens,
      pre.firstTokenId,
      'inc',
    );
    expect(decoded.last.usage!.kvRecomputed).toBe(true);
    // Nobody pulled, so nobody released: the hold is still there until someone does.
    expect(
      (
        await prefill.grpc.pullKv({
          remoteRequestId: pre.handoff!.remoteRequestId,
          remoteEngineId: prefill.ready.engine_id,
        })
      ).held,
    ).toBe(true);
    await prefill.grpc.releaseKv({ remoteRequestId: pre.handoff!.remoteRequestId });
  });

  it('fails with UNAVAILABLE (kv_transfer_failed) under policy FAIL', async () => {
    const tokens = prompt(120, 40_000);
    const pre = await prefill.grpc.prefill({ requestId: 'fail', tokenIds: tokens, sampling: sampling(6) });
    await prefill.grpc.releaseKv({ remoteRequestId: pre.handoff!.remoteRequestId });
    const error = await decodeAfter(pre.handoff!, tokens, pre.firstTokenId, 'fail', KvLoadFailurePolicy.FAIL).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('recomputes when the prefill worker is gone, and that worker exited 0 on SIGTERM', async () => {
    const doomed = await fleet.start([...COMMON, '--role', 'prefill']);
    const tokens = prompt(150, 50_000);
    const pre = await doomed.grpc.prefill({ requestId: 'gone', tokenIds: tokens, sampling: sampling(6) });
    expect(await doomed.stop('SIGTERM')).toBe(0);
    const decoded = await decodeAfter(pre.handoff!, tokens, pre.firstTokenId, 'gone');
    expect(decoded.last.usage).toMatchObject({ kvRecomputed: true, completionTokens: 6 });
    expect(decoded.tokens).toHaveLength(5);
  });
});

describe('the worker service', () => {
  it('reports its identity, profile, load and KV-event endpoints in GetStatus', async () => {
    const status = await decode.grpc.getStatus({});
    expect(status).toMatchObject({
      engineId: decode.ready.engine_id,
      role: WorkerRole.DECODE,
      engineKind: 'sim',
      gpu: 'h100-sxm',
      model: 'qwen3-8b',
      tpSize: 1,
      blockSize: 16,
      maxModelLen: 32768,
      totalBlocks: 512,
      usedBlocks: 0,
      heldBlocks: 0,
      runningRequests: 0,
      waitingRequests: 0,
      queuedPrefillTokens: 0,
      kvTransferPort: 0,
    });
    expect(status.cachedBlocks).toBeGreaterThan(0);
    expect(status.kvEventEndpoints).toHaveLength(1);
    expect(status.kvEventEndpoints[0]).toMatchObject({
      endpoint: decode.ready.kv_events,
      replayEndpoint: decode.ready.replay,
      topic: '',
      dpRank: 0,
    });
    expect(decode.ready.kv_events).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(status.startedAtUnixMs).toBeGreaterThanOrEqual(testStartMs - 1000);
    expect(status.startedAtUnixMs).toBeLessThanOrEqual(Date.now());
    expect(status.prefixCacheHitsTokens).toBeGreaterThan(0);
    expect(status.prefixCacheQueriesTokens).toBeGreaterThanOrEqual(status.prefixCacheHitsTokens);
    expect((await prefill.grpc.getStatus({})).role).toBe(WorkerRole.PREFILL);
  });

  it('cancels the engine request when the client cancels a Generate call', async () => {
    const abortsBefore = await metric(decode, 'vllm:request_success_total{finished_reason="abort"');
    const tokensBefore = await metric(decode, 'vllm:generation_tokens_total');
    const controller = new AbortController();
    const stream = decode.grpc.generate(
      { requestId: 'long', tokenIds: prompt(100, 60_000), sampling: sampling(5000) },
      { signal: controller.signal },
    );
    const seen = await (async () => {
      try {
        for await (const chunk of stream) if (chunk.tokenIds.length > 0) controller.abort();
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect((seen as RpcError).code).toBe(GrpcStatus.CANCELLED);
    await waitFor(
      () => decode.grpc.getStatus({}),
      (s) => s.runningRequests === 0 && s.waitingRequests === 0,
      10_000,
      'the cancelled request to leave the engine',
    );
    expect(await metric(decode, 'vllm:request_success_total{finished_reason="abort"')).toBe(abortsBefore + 1);
    // Uncancelled, the request would have run to its 5000 tokens.
    expect((await metric(decode, 'vllm:generation_tokens_total')) - tokensBefore).toBeLessThan(5000);
  });

  it('on SIGTERM ends the calls it is serving, closes its sockets and exits 0', async () => {
    // Real time: the 5000 tokens would take 30 s, far longer than stopping.
    const doomed = await fleet.start([...COMMON, '--role', 'both', '--time-scale', '1']);
    const stream = doomed.grpc.generate({ requestId: 'cut', tokenIds: prompt(100, 70_000), sampling: sampling(5000) });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    const exit = doomed.stop('SIGTERM');
    const ending = await (async () => {
      try {
        for (let step = await iterator.next(); !step.done; step = await iterator.next())
          if (step.value.finishReason !== FinishReason.UNSPECIFIED) return step.value.finishReason;
        return 'ended';
      } catch (error) {
        return (error as RpcError).codeName;
      }
    })();
    // Cut short (abort, or the call failing as the server goes): not run to its 5000 tokens.
    expect([FinishReason.ABORT, 'UNAVAILABLE', 'CANCELLED']).toContain(ending);
    expect(await exit).toBe(0);
    const refused = await fetch(`${doomed.ready.http}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(refused).toBe('refused');
  });

  it('refuses a model it does not serve with NOT_FOUND and bad sampling with INVALID_ARGUMENT', async () => {
    const unknown = await collect(
      decode.grpc.generate({ requestId: 'm', tokenIds: [1, 2, 3], sampling: sampling(2), model: 'gpt-4' }),
    ).catch((e: unknown) => e);
    expect((unknown as RpcError).code).toBe(GrpcStatus.NOT_FOUND);
    const zero = await collect(
      decode.grpc.generate({ requestId: 'z', tokenIds: [1, 2, 3], sampling: sampling(0) }),
    ).catch((e: unknown) => e);
    expect((zero as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const named = await collect(
      decode.grpc.generate({ requestId: 'n', tokenIds: [1, 2, 3], sampling: sampling(2), model: 'Qwen/Qwen3-8B' }),
    );
    expect(named.last.finishReason).toBe(FinishReason.LENGTH);
  });
});

/** The value of the first series of the worker's /metrics whose line starts with `prefix`. */
async function metric(worker: WorkerProcess, prefix: string): Promise<number> {
  const text = await (await fetch(`${worker.ready.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return Number(line!.split(' ').at(-1));
}
