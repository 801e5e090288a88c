import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { EchoService } from '../gen/tandem/testing/v1/echo_pb.ts';
import {
  createGrpcClient,
  createGrpcServer,
  GrpcStatus,
  RpcError,
  type GrpcServer,
  type ServiceClient,
} from './index.ts';

const FAIL_AFTER = 1;

/** The server-stream path (h2-stream.ts, straight over node:http2) against a grpc-js server. */
describe('server streams over the adapter', () => {
  let server: GrpcServer;
  let echo: ServiceClient<typeof EchoService>;
  let port = 0;
  const seenMetadata: string[] = [];

  beforeAll(async () => {
    server = createGrpcServer();
    server.add(EchoService, {
      echo: async (request) => ({ text: request.text }),
      async *count(request, context) {
        seenMetadata.push(context.metadata['x-data-parallel-rank'] ?? '');
        // A burst: every message written before the client reads any. Then, by interval_ms:
        // 1 fails the call, more holds it open that long.
        for (let index = 0; index < request.count; index++) yield { text: `n${index}`, index };
        if (request.intervalMs === FAIL_AFTER)
          throw new RpcError(GrpcStatus.RESOURCE_EXHAUSTED, 'out of KV blocks: 100%');
        if (request.intervalMs > FAIL_AFTER)
          await sleep(request.intervalMs, undefined, { signal: context.signal }).catch(() => undefined);
      },
      collect: async () => ({ text: '', index: 0 }),
      async *chat() {},
    });
    port = await server.listen('127.0.0.1', 0);
    echo = createGrpcClient(EchoService, `127.0.0.1:${port}`);
  });

  afterAll(async () => {
    echo?.close();
    await server?.close(500);
  });

  it('hands every message already received over in one batch, in order', async () => {
    const stream = echo.count({ count: 50, intervalMs: 300 });
    await sleep(150); // the burst has arrived; the call is still open
    const batch = await stream.nextBatch();
    expect(batch.map((m) => m.index)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await stream.nextBatch()).toEqual([]);
  });

  it('delivers the messages sent before a failure, then rejects with its status and percent-decoded message', async () => {
    const got: number[] = [];
    const error = await (async () => {
      for await (const message of echo.count({ count: 3, intervalMs: FAIL_AFTER })) got.push(message.index);
    })().catch((e: unknown) => e);
    expect(got).toEqual([0, 1, 2]);
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((error as RpcError).message).toBe('out of KV blocks: 100%');
  });

  it('keeps reading past the buffering bound when the consumer is slow', async () => {
    const stream = echo.count({ count: 300 });
    await sleep(100);
    let total = 0;
    for (;;) {
      const batch = await stream.nextBatch();
      if (batch.length === 0) break;
      total += batch.length;
    }
    expect(total).toBe(300);
  });

  it('sends call metadata as headers', async () => {
    for await (const _ of echo.count({ count: 1 }, { metadata: { 'x-data-parallel-rank': '3' } }));
    expect(seenMetadata.at(-1)).toBe('3');
  });

  it('fails with UNAVAILABLE when nothing listens at the address', async () => {
    const closed = createGrpcServer();
    closed.add(EchoService, {
      echo: async () => ({}),
      count: async function* () {},
      collect: async () => ({}),
      chat: async function* () {},
    });
    const freePort = await closed.listen('127.0.0.1', 0);
    await closed.close(0);
    const client = createGrpcClient(EchoService, `127.0.0.1:${freePort}`);
    try {
      const error = await (async () => {
        for await (const _ of client.count({ count: 1 }));
      })().catch((e: unknown) => e);
      expect((error as RpcError).code).toBe(GrpcStatus.UNAVAILABLE);
    } finally {
      client.close();
    }
  });

  it('reconnects after the server restarts on the same port', async () => {
    const restartable = createGrpcServer();
    const handlers = {
      echo: async () => ({}),
      count: async function* () {
        yield { index: 7 };
      },
      collect: async () => ({}),
      chat: async function* () {},
    };
    restartable.add(EchoService, handlers);
    const p = await restartable.listen('127.0.0.1', 0);
    const client = createGrpcClient(EchoService, `127.0.0.1:${p}`);
    let again: GrpcServer | undefined;
    try {
      for await (const m of client.count({})) expect(m.index).toBe(7);
      await restartable.close(0);
      again = createGrpcServer();
      again.add(EchoService, handlers);
      await again.listen('127.0.0.1', p);
      const got: number[] = [];
      for await (const m of client.count({})) got.push(m.index);
      expect(got).toEqual([7]);
    } finally {
      client.close();
      await again?.close(0);
    }
  });
});
