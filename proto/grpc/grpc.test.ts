import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { EchoService } from '../gen/tandem/testing/v1/echo_pb.ts';
import { FinishReason, WorkerRole, WorkerService } from '../gen/tandem/v1/worker_pb.ts';
import {
  createGrpcClient,
  createGrpcServer,
  GrpcStatus,
  RpcError,
  type GrpcServer,
  type ServiceClient,
} from './index.ts';

describe('grpc adapter over a real socket', () => {
  let server: GrpcServer;
  let echo: ServiceClient<typeof EchoService>;
  let worker: ServiceClient<typeof WorkerService>;
  const streamEndedBy: string[] = [];

  beforeAll(async () => {
    server = createGrpcServer();
    server.add(EchoService, {
      async echo(request, context) {
        if (request.text === 'fail') throw new RpcError(GrpcStatus.INVALID_ARGUMENT, 'asked to fail');
        if (request.delayMs) await sleep(request.delayMs, undefined, { signal: context.signal }).catch(() => undefined);
        return { text: request.text };
      },
      async *count(request, context) {
        try {
          for (let index = 0; index < request.count; index++) {
            if (index > 0 && request.intervalMs) await sleep(request.intervalMs, undefined, { signal: context.signal });
            yield { text: `n${index}`, index };
          }
          streamEndedBy.push('completion');
        } catch {
          streamEndedBy.push(
            context.signal.aborted ? `abort:${(context.signal.reason as RpcError).codeName}` : 'error',
          );
        }
      },
      async collect(requests) {
        const texts: string[] = [];
        for await (const request of requests) texts.push(request.text);
        return { text: texts.join('+'), index: texts.length };
      },
      async *chat(requests) {
        let index = 0;
        for await (const request of requests) yield { text: request.text.toUpperCase(), index: index++ };
      },
    });
    server.add(WorkerService, {
      async *generate(request) {
        for (const id of request.tokenIds) yield { tokenIds: [id + 1] };
        yield {
          finishReason: FinishReason.LENGTH,
          usage: { promptTokens: request.tokenIds.length, completionTokens: request.tokenIds.length },
        };
      },
      async prefill(request) {
        return {
          requestId: request.requestId,
          firstTokenId: 7,
          handoff: { remoteRequestId: request.requestId, blockSize: 16, numTokens: request.tokenIds.length },
        };
      },
      async *decode(request) {
        yield {
          tokenIds: [request.firstTokenId ?? 0, request.handoff?.numTokens ?? 0],
          finishReason: FinishReason.STOP,
        };
      },
      async pullKv(request) {
        return { held: request.remoteRequestId === 'held', numBlocks: 2, numTokens: 20 };
      },
      async releaseKv(request) {
        return { found: request.remoteRequestId === 'held', releasedBlocks: 3 };
      },
      async getStatus() {
        return { engineId: 'e1', role: WorkerRole.DECODE, blockSize: 16, totalBlocks: 1024 };
      },
    });
    const port = await server.listen('127.0.0.1', 0);
    echo = createGrpcClient(EchoService, `127.0.0.1:${port}`);
    worker = createGrpcClient(WorkerService, `127.0.0.1:${port}`);
  });

  afterAll(async () => {
    echo?.close();
    worker?.close();
    await server?.close(500);
  });

  it('answers a unary call', async () => {
    expect((await echo.echo({ text: 'hi' })).text).toBe('hi');
  });

  it('rejects with the status the handler threw', async () => {
    const error = await echo.echo({ text: 'fail' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect((error as RpcError).message).toBe('asked to fail');
  });

  it('rejects a unary call past its deadline with DEADLINE_EXCEEDED', async () => {
    const error = await echo.echo({ text: 'slow', delayMs: 2000 }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect((error as RpcError).code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
  });

  it('rejects a unary call with CANCELLED when the caller aborts it, and at once when already aborted', async () => {
    const controller = new AbortController();
    const pending = echo.echo({ text: 'slow', delayMs: 5000 }, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    expect(((await pending) as RpcError).code).toBe(GrpcStatus.CANCELLED);
    expect(Date.now() - started).toBeLessThan(2000);
    const error = await echo.echo({ text: 'hi' }, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as RpcError).code).toBe(GrpcStatus.CANCELLED);
  });

  it('streams a server-streaming call to the end', async () => {
    const got: number[] = [];
    for await (const message of echo.count({ count: 5 })) got.push(message.index);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it('cancels a server stream when the caller aborts, and the handler sees it', async () => {
    const controller = new AbortController();
    const got: number[] = [];
    const error = await (async () => {
      for await (const message of echo.count({ count: 1000, intervalMs: 20 }, { signal: controller.signal })) {
        got.push(message.index);
        if (got.length === 3) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect((error as RpcError).code).toBe(GrpcStatus.CANCELLED);
    expect(got.length).toBeGreaterThanOrEqual(3);
    expect(got.length).toBeLessThan(1000);
    await expect.poll(() => streamEndedBy).toContain('abort:CANCELLED');
  });

  it('cancels a server stream when the caller stops iterating', async () => {
    const before = streamEndedBy.filter((s) => s === 'abort:CANCELLED').length;
    for await (const message of echo.count({ count: 1000, intervalMs: 20 })) if (message.index === 2) break;
    await expect.poll(() => streamEndedBy.filter((s) => s === 'abort:CANCELLED').length).toBe(before + 1);
  });

  it('ends a server stream past its deadline with DEADLINE_EXCEEDED', async () => {
    const got: number[] = [];
    const error = await (async () => {
      for await (const message of echo.count({ count: 1000, intervalMs: 20 }, { timeoutMs: 150 }))
        got.push(message.index);
    })().catch((e: unknown) => e);
    expect((error as RpcError).code).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(got.length).toBeLessThan(1000);
  });

  it('collects a client stream', async () => {
    async function* words() {
      yield { text: 'a' };
      yield { text: 'b' };
      yield { text: 'c' };
    }
    expect(await echo.collect(words())).toMatchObject({ text: 'a+b+c', index: 3 });
  });

  it('rejects a client stream with CANCELLED when the caller aborts before it ends', async () => {
    const controller = new AbortController();
    async function* wordsThenWait() {
      yield { text: 'a' };
      await sleep(5000, undefined, { signal: controller.signal }).catch(() => undefined);
    }
    const pending = echo.collect(wordsThenWait(), { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    expect(((await pending) as RpcError).code).toBe(GrpcStatus.CANCELLED);
  });

  it('echoes a bidirectional stream', async () => {
    async function* words() {
      yield { text: 'x' };
      yield { text: 'y' };
    }
    const got: string[] = [];
    for await (const message of echo.chat(words())) got.push(message.text);
    expect(got).toEqual(['X', 'Y']);
  });

  it('serves every WorkerService method from the generated descriptor', async () => {
    const chunks = [];
    for await (const chunk of worker.generate({ requestId: 'r', tokenIds: [1, 2] })) chunks.push(chunk);
    expect(chunks.map((c) => c.tokenIds)).toEqual([[2], [3], []]);
    expect(chunks.at(-1)?.usage?.promptTokens).toBe(2);

    const prefill = await worker.prefill({ requestId: 'r', tokenIds: [1, 2, 3] });
    expect(prefill.handoff?.numTokens).toBe(3);

    const decoded = [];
    for await (const chunk of worker.decode({
      requestId: 'r',
      handoff: prefill.handoff!,
      firstTokenId: prefill.firstTokenId,
    }))
      decoded.push(...chunk.tokenIds);
    expect(decoded).toEqual([7, 3]);

    expect(await worker.pullKv({ remoteRequestId: 'held' })).toMatchObject({ held: true, numBlocks: 2 });
    expect(await worker.releaseKv({ remoteRequestId: 'held' })).toMatchObject({ found: true, releasedBlocks: 3 });
    expect(await worker.getStatus({})).toMatchObject({ engineId: 'e1', role: WorkerRole.DECODE, totalBlocks: 1024 });
  });
});
