import { createServer, type Socket } from 'node:net';
import { createFrameReader } from '../../transfer/frame-reader.ts';
import {
  decodeClientMessage,
  encodeBlockHeader,
  encodeReleased,
  MAX_REQUEST_BODY_BYTES,
} from '../../transfer/protocol.ts';

/**
 * A misbehaving prefill peer for tests: a TCP server speaking just enough of the KV block
 * protocol to fail a pull in a chosen way, and recording what it was asked. Binds 127.0.0.1 on
 * a free port.
 *
 * - `silent`: accepts READs and never answers them (a hung peer; the puller times out or is
 *   cancelled). RELEASEs are acknowledged.
 * - `one-block-then-close`: answers a READ with its first block, filled with `fill` bytes,
 *   then closes the connection (a peer dying mid-transfer).
 */
export type FakePeerBehaviour = 'silent' | 'one-block-then-close';

export interface FakePeer {
  readonly port: number;
  /** Request ids of READs and RELEASEs received, in order. */
  readonly reads: string[];
  readonly releases: string[];
  /** Resolves when the next message of that kind arrives. */
  next(kind: 'read' | 'release'): Promise<string>;
  close(): Promise<void>;
}

export async function createFakePeer(behaviour: FakePeerBehaviour, blockBytes: number, fill = 0x7f): Promise<FakePeer> {
  const reads: string[] = [];
  const releases: string[] = [];
  const waiters: { kind: 'read' | 'release'; resolve: (id: string) => void }[] = [];
  const sockets = new Set<Socket>();
  const notify = (kind: 'read' | 'release', id: string) => {
    (kind === 'read' ? reads : releases).push(id);
    for (const w of waiters.filter((w) => w.kind === kind)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(id);
    }
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = createFrameReader(MAX_REQUEST_BODY_BYTES);
    socket.on('data', (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (!frames.ok) return socket.destroy();
      for (const body of frames.value) {
        const message = decodeClientMessage(body);
        if (!message.ok) return socket.destroy();
        const m = message.value;
        if (m.type === 'release') {
          notify('release', m.remoteRequestId);
          socket.write(encodeReleased(m.tag, false));
          continue;
        }
        notify('read', m.remoteRequestId);
        if (behaviour === 'one-block-then-close' && m.blockIds.length > 0) {
          socket.write(encodeBlockHeader(m.tag, 0, m.blockIds[0]!, blockBytes));
          socket.end(Buffer.alloc(blockBytes, fill), () => socket.destroy());
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake peer has no TCP address');

  return {
    port: address.port,
    reads,
    releases,
    next: (kind) => new Promise((resolve) => waiters.push({ kind, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
