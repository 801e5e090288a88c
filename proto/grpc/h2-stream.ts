import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import { status } from '@grpc/grpc-js';
import { iterateBatches, type MessageStream } from './message-stream.ts';
import { RpcError } from './rpc-error.ts';

/**
 * Server-streaming gRPC calls straight over node:http2, for the hot path (a worker's token
 * stream): per message one length-prefixed frame parsed and deserialized into a queue, nothing
 * else. grpc-js, which the adapter uses for every other call, costs a nextTick, a pause/resume
 * of the HTTP/2 stream and four listener layers per message (measured: ~40 against ~22 us of
 * client CPU per message on this machine). Same wire: `application/grpc`, `te: trailers`,
 * `grpc-timeout`, identity encoding, status from trailers (or a trailers-only response),
 * RST_STREAM and HTTP statuses mapped to gRPC codes as grpc-js maps them.
 */

/** One HTTP/2 connection to `address`, opened on first use and again after it closes or fails. */
export interface H2Connection {
  open(path: string, request: Uint8Array, options: H2CallOptions): MessageStream<unknown>;
  close(): void;
}

export interface H2CallOptions {
  /** Absolute deadline, Unix epoch ms; undefined for none. */
  readonly deadlineUnixMs: number | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly deserialize: (bytes: Uint8Array) => unknown;
  readonly signal: AbortSignal | undefined;
}

/** Messages buffered before the stream is paused (HTTP/2 flow control then holds the server). */
const HIGH_WATER_MESSAGES = 64;

export function createH2Connection(address: string): H2Connection {
  let session: ClientHttp2Session | undefined;
  let active = 0;
  let closed = false;
  const sessionFor = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const fresh = connect(`http://${address}`);
    // Failures reach each call through its stream; the session's own error event needs a listener.
    fresh.on('error', () => {});
    fresh.on('close', () => {
      if (session === fresh) session = undefined;
    });
    fresh.on('goaway', () => {
      if (session === fresh) session = undefined;
    });
    session = fresh;
    return fresh;
  };
  // Keep the process alive while calls are in flight, not while the connection idles.
  const retain = (s: ClientHttp2Session) => {
    if (active++ === 0) s.ref();
  };
  const release = (s: ClientHttp2Session) => {
    if (--active === 0 && !s.destroyed) s.unref();
  };

  return {
    open(path, request, options) {
      if (closed) return failedStream(new RpcError(status.UNAVAILABLE, 'the client is closed'));
      const s = sessionFor();
      retain(s);
      return openCall(s, path, request, options, () => release(s));
    },
    close() {
      closed = true;
      session?.close();
      session = undefined;
    },
  };
}

function openCall(
  session: ClientHttp2Session,
  path: string,
  request: Uint8Array,
  options: H2CallOptions,
  onEnd: () => void,
): MessageStream<unknown> {
  const headers: Record<string, string> = {
    ...options.metadata,
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-accept-encoding': 'identity',
  };
  const timeoutMs =
    options.deadlineUnixMs === undefined ? undefined : Math.max(1, Math.ceil(options.deadlineUnixMs - Date.now()));
  if (timeoutMs !== undefined)
    headers['grpc-timeout'] = timeoutMs < 1e8 ? `${timeoutMs}m` : `${Math.min(99999999, Math.ceil(timeoutMs / 1000))}S`;

  let queue: unknown[] = [];
  let ended = false;
  let failure: RpcError | undefined;
  let waiter: { resolve: (batch: unknown[]) => void; reject: (error: RpcError) => void } | undefined;
  let paused = false;
  let grpcStatus: { code: number; message: string } | undefined;
  let httpStatus: number | undefined;
  let streamError: Error | undefined;
  let buffered: Buffer | undefined;

  const stream: ClientHttp2Stream = session.request(headers, { endStream: false });
  const deadlineTimer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => abortWith(new RpcError(status.DEADLINE_EXCEEDED, 'Deadline exceeded')), timeoutMs);
  const onAbort = () => abortWith(new RpcError(status.CANCELLED, 'Cancelled on client'));

  const settle = () => {
    const w = waiter;
    if (w === undefined) return;
    if (queue.length > 0) {
      waiter = undefined;
      w.resolve(take());
    } else if (ended) {
      waiter = undefined;
      if (failure) w.reject(failure);
      else w.resolve([]);
    }
  };
  const take = (): unknown[] => {
    const batch = queue;
    queue = [];
    if (paused && !ended) {
      paused = false;
      stream.resume();
    }
    return batch;
  };
  const finish = (error: RpcError | undefined) => {
    if (ended) return;
    ended = true;
    failure = error;
    if (deadlineTimer) clearTimeout(deadlineTimer);
    options.signal?.removeEventListener('abort', onAbort);
    onEnd();
    settle();
  };
  function abortWith(error: RpcError): void {
    if (ended) return;
    queue = []; // as grpc-js: a cancelled call delivers nothing more
    if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    finish(error);
  }

  const statusFrom = (h: IncomingHttpHeaders) => {
    const code = h['grpc-status'];
    if (typeof code !== 'string') return;
    const message = h['grpc-message'];
    grpcStatus = { code: Number(code), message: typeof message === 'string' ? decodeMessage(message) : '' };
  };
  stream.on('response', (h) => {
    httpStatus = Number(h[':status']);
    statusFrom(h); // a trailers-only response carries the status in its headers
  });
  stream.on('trailers', statusFrom);
  stream.on('data', (chunk: Buffer) => {
    if (ended) return;
    let data = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    buffered = undefined;
    while (data.length >= 5) {
      const length = data.readUInt32BE(1);
      if (data.length < 5 + length) break;
      if (data[0] !== 0)
        return abortWith(
          new RpcError(status.INTERNAL, 'received a compressed message though only identity encoding was accepted'),
        );
      try {
        queue.push(options.deserialize(data.subarray(5, 5 + length)));
      } catch (error) {
        return abortWith(new RpcError(status.INTERNAL, `response message parsing error: ${(error as Error).message}`));
      }
      data = data.subarray(5 + length);
    }
    if (data.length > 0) buffered = data;
    if (queue.length >= HIGH_WATER_MESSAGES && !paused) {
      paused = true;
      stream.pause();
    }
    settle();
  });
  stream.on('error', (error) => {
    streamError = error;
  });
  // The stream got its id: the connection was up and the request went out on it.
  let sent = false;
  stream.once('ready', () => (sent = true));
  stream.on('close', () => {
    if (ended) return;
    if (grpcStatus !== undefined) {
      finish(
        grpcStatus.code === status.OK
          ? undefined
          : new RpcError(grpcStatus.code, grpcStatus.message || status[grpcStatus.code] || 'RPC failed'),
      );
    } else if (httpStatus !== undefined && httpStatus !== 200) {
      finish(fromHttpStatus(httpStatus));
    } else {
      finish(fromReset(stream.rstCode, streamError, sent && (session.destroyed || session.closed)));
    }
  });
  // The stream's 'end' must be consumed for 'close' to follow.
  stream.on('end', () => {});

  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  const frame = Buffer.allocUnsafe(5 + request.length);
  frame[0] = 0;
  frame.writeUInt32BE(request.length, 1);
  frame.set(request, 5);
  stream.end(frame);

  const cancel = () => {
    if (!ended) abortWith(new RpcError(status.CANCELLED, 'Cancelled on client'));
  };
  const nextBatch = (): Promise<unknown[]> => {
    if (queue.length > 0) return Promise.resolve(take());
    if (ended) return failure ? Promise.reject(failure) : Promise.resolve([]);
    if (waiter !== undefined)
      return Promise.reject(new RpcError(status.INTERNAL, 'nextBatch() called while another is pending'));
    return new Promise((resolve, reject) => (waiter = { resolve, reject }));
  };
  return iterateBatches(nextBatch, cancel);
}

function failedStream(error: RpcError): MessageStream<unknown> {
  return iterateBatches(
    () => Promise.reject(error),
    () => {},
  );
}

/** grpc-message is percent-encoded (gRPC over HTTP/2, "Responses"). */
function decodeMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** As grpc-js maps a non-200 HTTP status without a gRPC status. */
function fromHttpStatus(code: number): RpcError {
  const mapped =
    code === 400
      ? status.INTERNAL
      : code === 401
        ? status.UNAUTHENTICATED
        : code === 403
          ? status.PERMISSION_DENIED
          : code === 404
            ? status.UNIMPLEMENTED
            : [429, 502, 503, 504].includes(code)
              ? status.UNAVAILABLE
              : status.UNKNOWN;
  return new RpcError(mapped, `Received HTTP status code ${code}`);
}

/**
 * A stream that closed without a gRPC status and not by this side (a cancel or deadline of ours
 * ends the call before its close). Mapped as grpc-js maps it, with one exception that matters to
 * callers: when the call was under way and then its connection went (Node destroys the streams
 * of a lost session with an RST_STREAM CANCEL of its own making),
 * the server died or the network failed mid-call. grpc-js calls that CANCELLED, as if the caller
 * had cancelled; here it is UNAVAILABLE with `connectionLost` set, so a caller can tell "the
 * peer may have started the work and vanished" from "never reached" and from its own cancel.
 * `connectionGone`: the request went out on the connection (the stream got its id) and the
 * connection is closed or destroyed now.
 */
function fromReset(rstCode: number | undefined, error: Error | undefined, connectionGone: boolean): RpcError {
  if (connectionGone) {
    return new RpcError(status.UNAVAILABLE, `the connection was lost mid-call${error ? ` (${error.message})` : ''}`, {
      cause: error,
      connectionLost: true,
    });
  }
  // The connection failed or went away before the call ran (refused, reset): it never ran.
  if (error && (error as { code?: unknown }).code !== 'ERR_HTTP2_STREAM_ERROR')
    return new RpcError(status.UNAVAILABLE, error.message, { cause: error });
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return new RpcError(status.UNAVAILABLE, 'Stream refused by server');
    case constants.NGHTTP2_CANCEL:
      return new RpcError(status.CANCELLED, 'Call cancelled');
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new RpcError(status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return new RpcError(status.PERMISSION_DENIED, 'Protocol not secure enough');
    default:
      if (rstCode === undefined || rstCode === constants.NGHTTP2_NO_ERROR)
        return new RpcError(status.INTERNAL, 'the stream closed without a gRPC status');
      return new RpcError(status.INTERNAL, `Received RST_STREAM with code ${rstCode}`);
  }
}
