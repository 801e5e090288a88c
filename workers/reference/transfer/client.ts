import { connect, type Socket } from 'node:net';
import { realClock, type Clock } from '../../../common/clock.ts';
import { fail, ok, TandemError, type Result } from '../../../common/errors.ts';
import type { KvBlockPool } from '../kv/block-pool.ts';
import { KvTransferError, type KvTransferFailure } from './errors.ts';
import { createFrameReader } from './frame-reader.ts';
import {
  decodeServerMessage,
  encodeRead,
  encodeRelease,
  WIRE_ERROR,
  wireLayoutOf,
  type ServerMessage,
} from './protocol.ts';

/**
 * The decode side of the KV transfer: reads blocks by id from a peer's block server into local
 * blocks of `pool`, and tells the peer when it may free them. One TCP connection per call.
 *
 * Transfer failures are returned as KvTransferError results (the caller recomputes or fails);
 * caller bugs (mismatched id lists, local ids outside the pool) throw invalid_request.
 */
export interface KvBlockClientOptions {
  /** The local pool blocks are written into; its layout must equal the peer's. */
  readonly pool: KvBlockPool;
  /** Bound on each whole call (connect, request, every byte of the answer), ms. Default 10,000. */
  readonly timeoutMs?: number;
  /** Times the timeout. Default: the wall clock. */
  readonly clock?: Clock;
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** The prefill side's id for the request holding the blocks (KvHandoff.remote_request_id). */
  readonly remoteRequestId: string;
  readonly signal?: AbortSignal;
}

export interface ReadBlocksRequest extends PeerAddress {
  /** Block ids in the peer's pool, in prompt order. */
  readonly remoteBlockIds: readonly number[];
  /** Where each goes locally: localBlockIds[i] receives remoteBlockIds[i]. Same length. */
  readonly localBlockIds: readonly number[];
}

export interface ReadBlocksOutcome {
  readonly blocks: number;
  readonly bytes: number;
}

export interface KvBlockClient {
  /**
   * Copies the remote blocks into the local ones. On failure the local blocks' contents are
   * unspecified (some may have been written). An empty list succeeds without connecting.
   */
  readBlocks(request: ReadBlocksRequest): Promise<Result<ReadBlocksOutcome, KvTransferError>>;
  /** Notifies the peer that it may free the request's blocks; `wasHeld` is false if it held none. */
  release(request: PeerAddress): Promise<Result<{ readonly wasHeld: boolean }, KvTransferError>>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const WIRE_REASONS: Record<number, KvTransferFailure> = {
  [WIRE_ERROR.notHeld]: 'not_held',
  [WIRE_ERROR.badBlockId]: 'bad_block_id',
  [WIRE_ERROR.layoutMismatch]: 'layout_mismatch',
  [WIRE_ERROR.malformed]: 'protocol',
};

export function createKvBlockClient(options: KvBlockClientOptions): KvBlockClient {
  const { pool } = options;
  const layout = wireLayoutOf(pool.layout);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = options.clock ?? realClock;

  return {
    async readBlocks(request) {
      const { remoteBlockIds, localBlockIds } = request;
      if (remoteBlockIds.length !== localBlockIds.length) {
        throw new TandemError(
          'invalid_request',
          `${remoteBlockIds.length} remote block ids but ${localBlockIds.length} local ones`,
        );
      }
      for (const id of localBlockIds) {
        if (!pool.hasBlock(id))
          throw new TandemError('invalid_request', `local block ${id} is outside the pool of ${pool.numBlocks}`);
      }
      if (remoteBlockIds.length === 0) return ok({ blocks: 0, bytes: 0 });
      let received = 0;
      return exchange(request, encodeRead(1, layout, request.remoteRequestId, remoteBlockIds), (message) => {
        if (message.type === 'block') {
          if (message.index !== received || message.blockId !== remoteBlockIds[received]) {
            return failure(
              'protocol',
              `expected block ${remoteBlockIds[received] ?? '(none)'} at index ${received}, got block ${message.blockId} at index ${message.index}`,
            );
          }
          pool.writeBlockBytes(localBlockIds[received]!, message.bytes);
          received++;
          return undefined;
        }
        if (message.type === 'done') {
          if (message.count !== remoteBlockIds.length || received !== remoteBlockIds.length) {
            return failure(
              'protocol',
              `DONE after ${received} of ${remoteBlockIds.length} blocks (server counted ${message.count})`,
            );
          }
          return ok({ blocks: received, bytes: received * pool.layout.blockBytes });
        }
        return failure('protocol', `unexpected ${message.type} frame in answer to a read`);
      });
    },

    release(request) {
      return exchange(request, encodeRelease(1, request.remoteRequestId), (message) =>
        message.type === 'released'
          ? ok({ wasHeld: message.wasHeld })
          : failure('protocol', `unexpected ${message.type} frame in answer to a release`),
      );
    },
  };

  /**
   * Connects, sends `requestFrame`, and feeds each answer frame to `onMessage` until it returns
   * a result. ERROR frames, framing errors, EOF, socket errors, the timeout and the signal all
   * end the exchange with a KvTransferError; the socket is always destroyed at the end.
   */
  function exchange<T>(
    peer: PeerAddress,
    requestFrame: Buffer,
    onMessage: (message: ServerMessage) => Result<T, KvTransferError> | undefined,
  ): Promise<Result<T, KvTransferError>> {
    const where = `${peer.host}:${peer.port}`;
    return new Promise((resolve) => {
      if (peer.signal?.aborted)
        return resolve(failure('cancelled', `KV transfer from ${where} cancelled before it started`));
      let connected = false;
      let settled = false;
      const reader = createFrameReader(13 + pool.layout.blockBytes + 64 * 1024);
      const socket: Socket = connect({ host: peer.host, port: peer.port });
      let timedOut = false;
      const finish = (result: Result<T, KvTransferError>) => {
        if (settled) return;
        settled = true;
        if (!timedOut) cancelTimer();
        peer.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve(result);
      };
      const onAbort = () => finish(failure('cancelled', `KV transfer from ${where} cancelled`));
      const cancelTimer = clock.setTimer(timeoutMs, () => {
        timedOut = true;
        finish(failure('timeout', `KV transfer from ${where} took longer than ${timeoutMs} ms`));
      });
      peer.signal?.addEventListener('abort', onAbort, { once: true });

      socket.setNoDelay(true);
      socket.on('connect', () => {
        connected = true;
        socket.write(requestFrame);
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        finish(
          connected
            ? failure('connection_lost', `KV transfer connection to ${where} failed: ${error.message}`, error)
            : failure(
                'peer_unreachable',
                `cannot reach the KV block server at ${where}: ${error.code ?? error.message}`,
                error,
              ),
        );
      });
      socket.on('close', () =>
        finish(
          failure(
            'connection_lost',
            `KV block server at ${where} closed the connection before answering in full (${reader.pendingBytes()} bytes of a partial frame)`,
          ),
        ),
      );
      socket.on('data', (chunk: Buffer) => {
        if (settled) return;
        const bodies = reader.push(chunk);
        if (!bodies.ok) return finish(failure('protocol', bodies.error.message, bodies.error));
        for (const body of bodies.value) {
          const message = decodeServerMessage(body, pool.layout.blockBytes);
          if (!message.ok) return finish(failure('protocol', message.error.message, message.error));
          if (message.value.tag !== 1)
            return finish(failure('protocol', `answer for request tag ${message.value.tag}, expected 1`));
          if (message.value.type === 'error') {
            const reason = WIRE_REASONS[message.value.code] ?? 'remote_error';
            return finish(failure(reason, `KV block server at ${where}: ${message.value.message}`));
          }
          const result = onMessage(message.value);
          if (result) return finish(result);
        }
      });
    });
  }
}

function failure(reason: KvTransferFailure, message: string, cause?: unknown): Result<never, KvTransferError> {
  return fail(new KvTransferError(reason, message, cause === undefined ? {} : { cause }));
}
