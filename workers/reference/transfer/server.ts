import { createServer, type Server, type Socket } from 'node:net';
import { silentLogger, type Logger } from '../../../common/log.ts';
import { drained } from '../../../common/drained.ts';
import type { KvBlockPool } from '../kv/block-pool.ts';
import { sameKvLayout } from '../kv/layout.ts';
import { createFrameReader } from './frame-reader.ts';
import {
  decodeClientMessage,
  describeWireLayout,
  encodeBlockHeader,
  encodeDone,
  encodeError,
  encodeReleased,
  MAX_REQUEST_BODY_BYTES,
  WIRE_ERROR,
  wireLayoutOf,
  type ClientMessage,
} from './protocol.ts';

/**
 * The prefill side of the KV transfer: serves block reads from `pool` over TCP (protocol.ts),
 * only for blocks the prefill engine says it holds for the named request, and passes release
 * notifications on. Reads are copied out of the pool block by block, each just after its
 * `isHeld` check, so a block released mid-read is never sent.
 */
export interface KvBlockServerOptions {
  readonly pool: KvBlockPool;
  /** Interface to bind; 127.0.0.1 in tests. */
  readonly host: string;
  /** 0 picks a free port; read it back from `port`. */
  readonly port: number;
  /**
   * Whether `blockId` is held for the request `remoteRequestId` (the id the prefill worker put
   * in its KvHandoff). Wired to the block manager's held-blocks table; called once per block
   * before it is validated and again just before it is sent.
   */
  isHeld(remoteRequestId: string, blockId: number): boolean;
  /**
   * The decode side has finished reading and the request's blocks may be freed; returns whether
   * anything was held. Idempotent. When absent, release notifications are refused.
   */
  release?(remoteRequestId: string): boolean;
  readonly logger?: Logger;
}

export interface KvBlockServer {
  readonly host: string;
  readonly port: number;
  /** Open connections (for tests and status). */
  connections(): number;
  /** Stops listening and destroys every open connection (in-flight reads end short). */
  close(): Promise<void>;
}

export async function createKvBlockServer(options: KvBlockServerOptions): Promise<KvBlockServer> {
  const { pool } = options;
  const logger = options.logger ?? silentLogger;
  const layout = wireLayoutOf(pool.layout);
  const sockets = new Set<Socket>();

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (error) => logger.debug({ err: error }, 'kv block connection error'));
    serveConnection(socket);
  });

  /** A frame that could not be parsed: answered in turn, then the connection is closed. */
  interface Malformed {
    readonly type: 'malformed';
    readonly tag: number;
    readonly message: string;
  }

  function serveConnection(socket: Socket): void {
    const reader = createFrameReader(MAX_REQUEST_BODY_BYTES);
    const queue: Array<ClientMessage | Malformed> = [];
    let busy = false;
    let broken = false;

    // Requests are answered one at a time, in arrival order.
    const drain = async () => {
      busy = true;
      while (queue.length > 0 && !socket.destroyed) {
        const next = queue.shift()!;
        if (next.type === 'malformed') {
          logger.debug({ message: next.message }, 'malformed kv block request');
          socket.end(encodeError(next.tag, WIRE_ERROR.malformed, next.message), () => socket.destroy());
          return;
        }
        await answer(socket, next);
      }
      busy = false;
    };

    socket.on('data', (chunk: Buffer) => {
      if (broken) return;
      const frames = reader.push(chunk);
      const bodies = frames.ok ? frames.value : [];
      for (const body of bodies) {
        const message = decodeClientMessage(body);
        if (!message.ok) {
          queue.push({
            type: 'malformed',
            tag: body.length >= 5 ? body.readUInt32BE(1) : 0,
            message: message.error.message,
          });
          broken = true;
          break;
        }
        queue.push(message.value);
      }
      if (!frames.ok && !broken) {
        queue.push({ type: 'malformed', tag: 0, message: frames.error.message });
        broken = true;
      }
      if (!busy) {
        drain().catch((error: unknown) => {
          logger.warn({ err: error }, 'kv block server failed a request');
          socket.destroy();
        });
      }
    });
  }

  async function answer(socket: Socket, message: ClientMessage): Promise<void> {
    if (message.type === 'release') {
      if (!options.release) {
        socket.write(
          encodeError(message.tag, WIRE_ERROR.unsupported, 'this server does not take release notifications'),
        );
        return;
      }
      socket.write(encodeReleased(message.tag, options.release(message.remoteRequestId)));
      return;
    }
    const { tag, remoteRequestId, blockIds } = message;
    if (!sameKvLayout(message.layout, layout)) {
      socket.write(
        encodeError(
          tag,
          WIRE_ERROR.layoutMismatch,
          `layout ${describeWireLayout(message.layout)} requested, this pool has ${describeWireLayout(layout)}`,
        ),
      );
      return;
    }
    const refusal = (blockId: number): Buffer | undefined => {
      if (!pool.hasBlock(blockId))
        return encodeError(tag, WIRE_ERROR.badBlockId, `block ${blockId} is outside this pool of ${pool.numBlocks}`);
      if (!options.isHeld(remoteRequestId, blockId))
        return encodeError(tag, WIRE_ERROR.notHeld, `block ${blockId} is not held for request ${remoteRequestId}`);
      return undefined;
    };
    // Refuse the whole read up front when any block is unusable, so no bytes go out in vain.
    for (const blockId of blockIds) {
      const error = refusal(blockId);
      if (error) {
        socket.write(error);
        return;
      }
    }
    for (let index = 0; index < blockIds.length; index++) {
      const blockId = blockIds[index]!;
      // Held may have changed while we waited for the socket to drain.
      const error = refusal(blockId);
      if (socket.destroyed) return;
      if (error) {
        socket.write(error);
        return;
      }
      socket.write(encodeBlockHeader(tag, index, blockId, layout.blockBytes));
      const flushed = socket.write(pool.readBlockBytes(blockId));
      if (socket.destroyed) return;
      if (!flushed) await drained(socket);
      if (socket.destroyed) return;
    }
    socket.write(encodeDone(tag, blockIds.length));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('kv block server has no TCP address');
  logger.debug({ host: address.address, port: address.port }, 'kv block server listening');

  return {
    host: address.address,
    port: address.port,
    connections: () => sockets.size,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
