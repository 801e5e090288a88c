import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import type { TextLength } from '../tokenizer/tokenizer.ts';
import { createBodyScanner, type BodyScanOptions } from './body-scan.ts';

/**
 * Reads a request body as its chunks arrive, scanning each (body-scan.ts) so that a body that must
 * be refused is refused while it is still on the wire: larger than the limit (by Content-Length
 * or by what arrived), nested too deep, or carrying a prompt that cannot fit the context. Once
 * refused, nothing more of it is read (the caller answers, with `Connection: close`, and closes the
 * connection with createLingeringClose), so a 7 MB prompt costs the bytes up to the refusal, not a
 * 7 MB copy, a string and a parse.
 */
export interface ReadBodyOptions {
  /** Bytes; a larger body is a 413. */
  readonly limitBytes: number;
  readonly scan: BodyScanOptions;
  /** The refusal of a prompt at least this long, or undefined while it may still fit; asked after every chunk. */
  readonly refusePrompt?: ((length: TextLength) => TandemError | undefined) | undefined;
}

export interface BodyBytes {
  readonly bytes: Buffer;
}

export function readBody(
  stream: Readable,
  contentLength: number | undefined,
  options: ReadBodyOptions,
): Promise<Result<BodyBytes>> {
  const tooLarge = () =>
    new TandemError('payload_too_large', `the request body is larger than ${options.limitBytes} bytes`);
  if (contentLength !== undefined && contentLength > options.limitBytes) {
    return Promise.resolve(fail(tooLarge())); // nothing read: the answer closes the connection
  }
  const scanner = createBodyScanner(options.scan);
  const { refusePrompt } = options;
  const depth = options.scan.maxDepth;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const settle = (result: Result<BodyBytes>) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (!result.ok) {
        chunks.length = 0;
        stream.pause(); // nothing more is read: the answer closes the connection
      }
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > options.limitBytes) return settle(fail(tooLarge()));
      if (!scanner.push(chunk))
        return settle(
          fail(new TandemError('invalid_request', `the request body nests JSON deeper than ${depth} levels`)),
        );
      const refusal = refusePrompt?.(scanner.promptLength());
      if (refusal) return settle(fail(refusal));
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (contentLength !== undefined && received !== contentLength)
        return settle(
          fail(new TandemError('invalid_request', `the request body has ${received} bytes, not its Content-Length`)),
        );
      settle(ok({ bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received) }));
    };
    const onError = (error: Error) =>
      settle(fail(new TandemError('cancelled', `the request body was not received: ${error.message}`)));
    const onClose = () =>
      settle(fail(new TandemError('cancelled', 'the client closed the request before its body ended')));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/** How long a refused client may go on sending after its answer before its connection is cut (ms). */
export const REFUSED_LINGER_MS = 2000;

/**
 * Refused connections that may linger at once. A client refused in a loop opens a new connection
 * for each try while the last one still lingers: four 7 MB senders refused 550-750 times a second
 * (bench/reliability/front-door.ts --case huge) would keep 1,100-1,500 sockets open, each a file
 * descriptor with its buffers, and a client with more connections any number. Past the bound the
 * connection that has lingered longest is cut at once: its answer has had the most time to be read.
 */
export const MAX_LINGERING = 256;

export interface LingeringClose {
  /**
   * Lingers `socket` (its answer written with `Connection: close`) instead of destroying it at
   * once; `answered` is called when the answer's last byte has been handed to the kernel.
   */
  close(socket: Socket, bodyUnread: boolean, answered?: () => void): void;
  /** Connections lingering now. */
  lingering(): number;
}

/**
 * Closes the connection of a request refused before its body ended without losing the answer and
 * without paying for the rest of the body. Node's HTTP server, once it has written an answer with
 * `Connection: close`, ends the socket and destroys it at once; with the client still sending, the
 * kernel then resets the connection, and the client may get EPIPE or a reset before it reads the
 * answer (seen in tests with a throttled writer). Instead (a lingering close, as nginx does): half-close
 * after the answer and destroy the socket once the client closes its side, after `lingerMs`, or
 * when `maxLingering` newer ones linger, so a client that never stops sending is not served forever
 * and clients refused in a loop do not pile sockets up. Meanwhile:
 * - `bodyUnread` (the client was still sending): nothing more is read. The client's writes stall
 *   once the kernel's buffers fill (they do not fail), while it reads the answer; the rest of its
 *   body (up to a few MB already in those buffers) is dropped with the connection, unread. Reading
 *   and dropping it instead cost a 7 MB sender's refusal 4 MB of reads.
 * - otherwise (the body was whole): what still comes is read and dropped, so the client's close is
 *   seen at once and the socket goes then.
 */
export function createLingeringClose(lingerMs = REFUSED_LINGER_MS, maxLingering = MAX_LINGERING): LingeringClose {
  // Insertion order is age: the first is the one lingering longest.
  const lingering = new Set<Socket>();
  return {
    close(socket, bodyUnread, answered) {
      // Node's HTTP server calls destroySoon once a `Connection: close` answer is written whole.
      socket.destroySoon = () => {
        answered?.();
        if (socket.writable) socket.end();
        const timer = setTimeout(() => socket.destroy(), lingerMs);
        socket.once('end', () => socket.destroy());
        socket.once('close', () => {
          clearTimeout(timer);
          lingering.delete(socket);
        });
        lingering.add(socket);
        if (lingering.size > maxLingering) {
          const oldest = lingering.values().next().value as Socket;
          lingering.delete(oldest);
          oldest.destroy();
        }
        if (!bodyUnread) {
          socket.resume();
          return;
        }
        socket.pause();
        // Node's HTTP server resumes a request it did not read once its response is written: not this one.
        socket.resume = () => socket;
      };
    },
    lingering: () => lingering.size,
  };
}
