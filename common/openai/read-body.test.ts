import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLingeringClose } from './read-body.ts';

/**
 * The lingering close of refused connections, over real loopback sockets: a client that keeps
 * sending after its answer is not read, and no more than `maxLingering` such connections are
 * held at once (the one lingering longest is cut), however long the linger.
 */
const closes: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closes.splice(0).reverse()) await close();
});

interface Client {
  readonly socket: Socket;
  /** The answer's bytes as read so far. */
  readonly answer: () => string;
  readonly closed: Promise<void>;
}

/** A server that answers every connection at once and hands it to the lingering close, still unread. */
async function startRefusingServer(lingerMs: number, maxLingering: number) {
  const lingeringClose = createLingeringClose(lingerMs, maxLingering);
  const server: Server = createServer((socket) => {
    socket.pause();
    lingeringClose.close(socket, true);
    socket.write('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno');
    socket.destroySoon();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  closes.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((done) => server.close(() => done()));
  });
  const port = (server.address() as { port: number }).port;
  // The server's side of each connection, in the order accepted.
  const accepted: Socket[] = [];
  server.on('connection', (socket) => accepted.push(socket));
  return { lingeringClose, port, accepted };
}

/** A client that sends forever (as a 7 MB body would) and reads whatever comes back. */
async function connectSender(port: number): Promise<Client> {
  // Half-open allowed: the server's half-close does not end the client's sending.
  const socket = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true });
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  socket.on('error', () => {}); // cut by the server: expected
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  await new Promise<void>((done) => socket.once('connect', () => done()));
  const chunk = Buffer.alloc(65_536, 0x61);
  const pump = () => {
    if (socket.destroyed) return;
    if (socket.write(chunk)) setImmediate(pump);
    else socket.once('drain', pump);
  };
  pump();
  closes.push(async () => {
    socket.destroy();
    await closed;
  });
  return { socket, answer: () => text, closed };
}

describe('the lingering close of a refused connection', () => {
  it('keeps a refused connection that is still sending, unread, until its linger ends', async () => {
    const { lingeringClose, port } = await startRefusingServer(300, 8);
    const client = await connectSender(port);
    await expect.poll(() => client.answer()).toContain('400 Bad Request');
    expect(lingeringClose.lingering()).toBe(1);
    await client.closed; // cut by the linger's end, though the client never stopped sending
    await expect.poll(() => lingeringClose.lingering()).toBe(0);
  });

  it('holds at most maxLingering at once: a newer refusal cuts the connection lingering longest', async () => {
    const { lingeringClose, port, accepted } = await startRefusingServer(60_000, 2);
    const first = await connectSender(port);
    await expect.poll(() => lingeringClose.lingering()).toBe(1);
    const second = await connectSender(port);
    await expect.poll(() => lingeringClose.lingering()).toBe(2);
    let firstClosed = false;
    void first.closed.then(() => {
      firstClosed = true;
    });
    const third = await connectSender(port);
    // Cut long before its 60 s linger: only the bound explains it.
    await first.closed;
    expect(first.answer()).toContain('400 Bad Request');
    expect(firstClosed).toBe(true);
    await expect.poll(() => third.answer()).toContain('400 Bad Request');
    expect(lingeringClose.lingering()).toBe(2);
    expect(accepted.map((socket) => socket.destroyed)).toEqual([true, false, false]);
    expect(second.socket.destroyed).toBe(false);
  });
});
