import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../../common/clock.ts';
import { createKvBlockLayout, createKvBlockPool, type KvBlockPool } from '../kv/index.ts';
import {
  createKvBlockClient,
  createKvBlockServer,
  type KvBlockServer,
  type KvBlockServerOptions,
  type KvTransferError,
} from './index.ts';
import { createFrameReader } from './frame-reader.ts';
import { decodeServerMessage, encodeBlockHeader, encodeDone, encodeRead, wireLayoutOf } from './protocol.ts';

const layout = createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 16 });

/** A pool whose block b holds floats b * 1e4 + i, so every block's bytes are distinct. */
function patternPool(numBlocks: number): KvBlockPool {
  const pool = createKvBlockPool({ layout, numBlocks });
  for (let b = 0; b < numBlocks; b++) {
    const at = pool.blockOffset(b);
    for (let i = 0; i < layout.blockFloats; i++) pool.data[at + i] = b * 1e4 + i;
  }
  return pool;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startServer(options: Partial<KvBlockServerOptions> & { pool: KvBlockPool }): Promise<KvBlockServer> {
  const server = await createKvBlockServer({ host: '127.0.0.1', port: 0, isHeld: () => true, ...options });
  cleanups.push(() => server.close());
  return server;
}

/** A raw TCP server for misbehaving peers; `onConnection` scripts what it does. */
async function startFakeServer(onConnection: (socket: Socket) => void): Promise<{ port: number; server: Server }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, server };
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const reasonOf = (result: { ok: boolean; error?: KvTransferError }) => (result.ok ? 'ok' : result.error!.reason);

describe('KV block transfer over TCP', () => {
  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  it('copies held blocks by id into different local block ids, byte for byte', async () => {
    const remote = patternPool(400);
    const held = new Map([['req-1', new Set(Array.from({ length: 300 }, (_, i) => 399 - i))]]);
    const server = await startServer({ pool: remote, isHeld: (id, block) => held.get(id)?.has(block) ?? false });
    const local = createKvBlockPool({ layout, numBlocks: 310 });
    const client = createKvBlockClient({ pool: local });
    const remoteBlockIds = [...held.get('req-1')!];
    const localBlockIds = remoteBlockIds.map((_, i) => i + 10);
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port: server.port,
      remoteRequestId: 'req-1',
      remoteBlockIds,
      localBlockIds,
    });
    expect(result).toEqual({ ok: true, value: { blocks: 300, bytes: 300 * layout.blockBytes } });
    for (let i = 0; i < remoteBlockIds.length; i++) {
      expect(
        bytesEqual(local.readBlockBytes(localBlockIds[i]!), remote.readBlockBytes(remoteBlockIds[i]!)),
        `block ${i}`,
      ).toBe(true);
    }
    expect(local.readBlockBytes(0).every((b) => b === 0)).toBe(true);
  });

  it('refuses a block not held for the request, or outside the pool, before sending any bytes', async () => {
    const remote = patternPool(8);
    const server = await startServer({ pool: remote, isHeld: (id, block) => id === 'req' && block < 4 });
    const local = createKvBlockPool({ layout, numBlocks: 8 });
    const client = createKvBlockClient({ pool: local });
    const at = { host: '127.0.0.1', port: server.port };
    const notHeld = await client.readBlocks({
      ...at,
      remoteRequestId: 'req',
      remoteBlockIds: [1, 2, 5],
      localBlockIds: [0, 1, 2],
    });
    expect(reasonOf(notHeld)).toBe('not_held');
    expect(notHeld.ok || notHeld.error.code).toBe('kv_transfer_failed');
    const unknownRequest = await client.readBlocks({
      ...at,
      remoteRequestId: 'other',
      remoteBlockIds: [1],
      localBlockIds: [0],
    });
    expect(reasonOf(unknownRequest)).toBe('not_held');
    const outside = await client.readBlocks({
      ...at,
      remoteRequestId: 'req',
      remoteBlockIds: [1, 8],
      localBlockIds: [0, 1],
    });
    expect(reasonOf(outside)).toBe('bad_block_id');
    expect(local.data.every((x) => x === 0)).toBe(true);
  });

  it('stops at a block released while the read is in progress', async () => {
    const remote = patternPool(8);
    let checks = 0;
    const held = new Set([0, 1, 2, 3, 4, 5]);
    // Each block is checked twice (up front, then as it is sent): release 3.. after 8 checks.
    const server = await startServer({
      pool: remote,
      isHeld: (_, block) => {
        if (++checks === 8) for (const b of [3, 4, 5]) held.delete(b);
        return held.has(block);
      },
    });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 8 }) });
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port: server.port,
      remoteRequestId: 'r',
      remoteBlockIds: [0, 1, 2, 3, 4, 5],
      localBlockIds: [0, 1, 2, 3, 4, 5],
    });
    expect(reasonOf(result)).toBe('not_held');
    expect(result.ok || result.error.message).toMatch(/block 3 is not held/);
  });

  it('reports a server that closes mid-read as a lost connection', async () => {
    const remote = patternPool(64);
    let checks = 0;
    let server: KvBlockServer | undefined;
    server = await startServer({
      pool: remote,
      isHeld: () => {
        // Up-front checks pass; the 10th send-time check kills the server with 9 blocks sent.
        if (++checks === 64 + 10) void server!.close();
        return true;
      },
    });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 64 }) });
    const ids = Array.from({ length: 64 }, (_, i) => i);
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port: server.port,
      remoteRequestId: 'r',
      remoteBlockIds: ids,
      localBlockIds: ids,
    });
    expect(reasonOf(result)).toBe('connection_lost');
    expect(server.connections()).toBe(0);
  });

  it('reports a layout mismatch instead of copying blocks of another shape', async () => {
    const server = await startServer({ pool: patternPool(4) });
    const otherLayout = createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 32 });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout: otherLayout, numBlocks: 4 }) });
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port: server.port,
      remoteRequestId: 'r',
      remoteBlockIds: [0],
      localBlockIds: [0],
    });
    expect(reasonOf(result)).toBe('layout_mismatch');
    expect(result.ok || result.error.message).toMatch(/32 tokens\/block/);
  });

  it('reports a peer that is gone as unreachable', async () => {
    const { port, server } = await startFakeServer(() => {});
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 1 }) });
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port,
      remoteRequestId: 'r',
      remoteBlockIds: [0],
      localBlockIds: [0],
    });
    expect(reasonOf(result)).toBe('peer_unreachable');
    expect(result.ok || result.error.message).toMatch(/ECONNREFUSED/);
  });

  it('reports a block frame of the wrong size as a protocol error', async () => {
    const { port } = await startFakeServer((socket) => {
      socket.once('data', () =>
        socket.write(
          Buffer.concat([encodeBlockHeader(1, 0, 0, layout.blockBytes - 4), Buffer.alloc(layout.blockBytes - 4)]),
        ),
      );
    });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 1 }) });
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port,
      remoteRequestId: 'r',
      remoteBlockIds: [0],
      localBlockIds: [0],
    });
    expect(reasonOf(result)).toBe('protocol');
    expect(result.ok || result.error.message).toMatch(/6140 bytes, the layout says 6144/);
  });

  it('reports a short read (half a block, then EOF) as a lost connection', async () => {
    const { port } = await startFakeServer((socket) => {
      socket.once('data', () => {
        const frame = Buffer.concat([encodeBlockHeader(1, 0, 0, layout.blockBytes), Buffer.alloc(layout.blockBytes)]);
        socket.end(frame.subarray(0, 3000));
      });
    });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 1 }) });
    const result = await client.readBlocks({
      host: '127.0.0.1',
      port,
      remoteRequestId: 'r',
      remoteBlockIds: [0],
      localBlockIds: [0],
    });
    expect(reasonOf(result)).toBe('connection_lost');
    expect(result.ok || result.error.message).toMatch(/3000 bytes of a partial frame/);
  });

  it('reports blocks out of order, or DONE too early, as protocol errors', async () => {
    const block = (index: number, id: number) =>
      Buffer.concat([encodeBlockHeader(1, index, id, layout.blockBytes), Buffer.alloc(layout.blockBytes)]);
    const scripts = [Buffer.concat([block(0, 1)]), Buffer.concat([block(0, 0), encodeDone(1, 2)])];
    for (const script of scripts) {
      const { port } = await startFakeServer((socket) => socket.once('data', () => socket.write(script)));
      const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 2 }) });
      const result = await client.readBlocks({
        host: '127.0.0.1',
        port,
        remoteRequestId: 'r',
        remoteBlockIds: [0, 1],
        localBlockIds: [0, 1],
      });
      expect(reasonOf(result)).toBe('protocol');
    }
  });

  it('times out a peer that never answers, on the injected clock', async () => {
    let connected!: () => void;
    const accepted = new Promise<void>((resolve) => (connected = resolve));
    const { port } = await startFakeServer(() => connected());
    const clock = createVirtualClock();
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 1 }), clock, timeoutMs: 5000 });
    const pending = client.readBlocks({
      host: '127.0.0.1',
      port,
      remoteRequestId: 'r',
      remoteBlockIds: [0],
      localBlockIds: [0],
    });
    await accepted;
    clock.advance(4999);
    let settled = false;
    void pending.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    clock.advance(1);
    const result = await pending;
    expect(reasonOf(result)).toBe('timeout');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('gives up with `cancelled` when the caller aborts', async () => {
    let connected!: () => void;
    const accepted = new Promise<void>((resolve) => (connected = resolve));
    const { port } = await startFakeServer(() => connected());
    const controller = new AbortController();
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 1 }) });
    const pending = client.readBlocks({
      host: '127.0.0.1',
      port,
      remoteRequestId: 'r',
      remoteBlockIds: [0],
      localBlockIds: [0],
      signal: controller.signal,
    });
    await accepted;
    controller.abort();
    const result = await pending;
    expect(reasonOf(result)).toBe('cancelled');
    expect(result.ok || result.error.code).toBe('cancelled');
  });

  it('passes release notifications on, after which the blocks are no longer served', async () => {
    const held = new Map([['req', new Set([0, 1])]]);
    const server = await startServer({
      pool: patternPool(2),
      isHeld: (id, block) => held.get(id)?.has(block) ?? false,
      release: (id) => held.delete(id),
    });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 2 }) });
    const at = { host: '127.0.0.1', port: server.port, remoteRequestId: 'req' };
    expect((await client.readBlocks({ ...at, remoteBlockIds: [0, 1], localBlockIds: [1, 0] })).ok).toBe(true);
    expect(await client.release(at)).toEqual({ ok: true, value: { wasHeld: true } });
    expect(await client.release(at)).toEqual({ ok: true, value: { wasHeld: false } });
    expect(reasonOf(await client.readBlocks({ ...at, remoteBlockIds: [0], localBlockIds: [0] }))).toBe('not_held');
  });

  it('refuses release notifications when the server was given no release hook', async () => {
    const server = await startServer({ pool: patternPool(1) });
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 1 }) });
    const result = await client.release({ host: '127.0.0.1', port: server.port, remoteRequestId: 'r' });
    expect(reasonOf(result)).toBe('remote_error');
  });

  it('succeeds at an empty read without connecting, and throws on a caller bug', async () => {
    const client = createKvBlockClient({ pool: createKvBlockPool({ layout, numBlocks: 2 }) });
    const nowhere = { host: '127.0.0.1', port: 1, remoteRequestId: 'r' };
    expect(await client.readBlocks({ ...nowhere, remoteBlockIds: [], localBlockIds: [] })).toEqual({
      ok: true,
      value: { blocks: 0, bytes: 0 },
    });
    await expect(client.readBlocks({ ...nowhere, remoteBlockIds: [0, 1], localBlockIds: [0] })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(client.readBlocks({ ...nowhere, remoteBlockIds: [0], localBlockIds: [2] })).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });

  it('answers several reads on one connection in order, and a malformed frame with an error before closing', async () => {
    const remote = patternPool(4);
    const server = await startServer({ pool: remote });
    const socket = connect({ host: '127.0.0.1', port: server.port });
    cleanups.push(() => void socket.destroy());
    const reader = createFrameReader(1 << 20);
    const answers: string[] = [];
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      const bodies = reader.push(chunk);
      if (!bodies.ok) throw bodies.error;
      for (const body of bodies.value) {
        const message = decodeServerMessage(body, layout.blockBytes);
        if (!message.ok) throw message.error;
        const m = message.value;
        answers.push(
          m.type === 'block'
            ? `block ${m.tag}:${m.blockId}`
            : m.type === 'done'
              ? `done ${m.tag}`
              : `${m.type} ${m.tag}`,
        );
      }
    });
    const wire = wireLayoutOf(layout);
    socket.write(
      Buffer.concat([
        encodeRead(1, wire, 'a', [2]),
        encodeRead(2, wire, 'b', [0, 3]),
        Buffer.from([0, 0, 0, 5, 0x42, 0, 0, 0, 9]),
      ]),
    );
    await closed;
    expect(answers).toEqual(['block 1:2', 'done 1', 'block 2:0', 'block 2:3', 'done 2', 'error 9']);
  });
});
