import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { createSseWriter } from './sse-writer.ts';

const EVENTS = [
  'data: {"text":" fox"}\n\n',
  'data: {"text":"é ü 中文 😀"}\n\n',
  `data: {"text":"${'x'.repeat(70_000)}"}\n\n`,
  'data: {"text":"\\"quoted\\\\"}\n\n',
];

/** Raw bytes of one request's response body (after the header block), over a plain TCP socket. */
function rawBody(port: number, path: string, version = '1.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (d) => {
      parts.push(d);
      // A kept-alive chunked response ends with its last chunk, not with the connection.
      if (version === '1.1' && Buffer.concat(parts).subarray(-5).toString('latin1') === '0\r\n\r\n') socket.end();
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(parts);
      resolve(all.subarray(all.indexOf('\r\n\r\n') + 4));
    });
    socket.write(`POST ${path} HTTP/${version}\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
}

/** Decodes a chunked body; throws on bad framing. */
function dechunk(body: Buffer): string {
  let at = 0;
  let out = '';
  for (;;) {
    const line = body.indexOf('\r\n', at);
    const size = parseInt(body.subarray(at, line).toString('latin1'), 16);
    if (!Number.isInteger(size)) throw new Error(`bad chunk size at ${at}`);
    if (size === 0) return out;
    out += body.subarray(line + 2, line + 2 + size).toString('utf8');
    if (body.subarray(line + 2 + size, line + 4 + size).toString('latin1') !== '\r\n')
      throw new Error('chunk without CRLF');
    at = line + 4 + size;
  }
}

describe('SSE writer', () => {
  let server: Server;
  let port = 0;
  let framedSocketWrites = 0;
  /** Writes that reached the kernel (net.Socket's _writeGeneric) during `done(last)` on /ending. */
  let endingWrites: number | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      const socket = res.socket!;
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = ((...args: unknown[]) => {
        if (typeof args[0] === 'string' && /^[0-9a-f]+\r\ndata: /.test(args[0])) framedSocketWrites++;
        return write(...args);
      }) as typeof socket.write;
      const sse = createSseWriter(res, { 'x-request-id': 'r1' }, { direct: req.url !== '/plain' });
      if (req.url === '/ending') {
        void (async () => {
          await sse.write(EVENTS[0]!);
          await new Promise((resolve) => setImmediate(resolve)); // the first event (and headers) flushed
          const writeGeneric = (socket as unknown as { _writeGeneric: (...args: unknown[]) => unknown })._writeGeneric;
          let writes = 0;
          Object.assign(socket, {
            _writeGeneric: (...args: unknown[]) => {
              writes++;
              return writeGeneric.apply(socket, args);
            },
          });
          await sse.done(`${EVENTS[1]}${EVENTS[3]}`);
          endingWrites = writes;
        })();
        return;
      }
      void (async () => {
        for (const event of EVENTS) {
          const pending = sse.write(event);
          if (pending) await pending;
        }
        await sse.done();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('puts the same bytes on the wire writing chunks to the socket as through res.write', async () => {
    const [direct, plain] = await Promise.all([rawBody(port, '/direct'), rawBody(port, '/plain')]);
    expect(direct.equals(plain)).toBe(true);
    expect(framedSocketWrites).toBeGreaterThan(0); // the direct path did run
    expect(dechunk(direct)).toBe(`${EVENTS.join('')}data: [DONE]\n\n`);
  });

  it('ends a stream in one write to the socket: the last events, [DONE] and the end of the chunked body', async () => {
    const body = await rawBody(port, '/ending');
    expect(dechunk(body)).toBe(`${EVENTS[0]}${EVENTS[1]}${EVENTS[3]}data: [DONE]\n\n`);
    expect(endingWrites).toBe(1);
  });

  it('streams to an HTTP/1.0 client, which gets no chunked encoding', async () => {
    const body = await rawBody(port, '/direct', '1.0');
    expect(body.toString('utf8')).toBe(`${EVENTS.join('')}data: [DONE]\n\n`);
  });
});
