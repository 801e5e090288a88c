import { connect } from 'node:net';
import { Agent, request } from 'undici';

/**
 * The reliability benchmarks' HTTP clients (front-door.ts and its 7 MB senders, huge-senders.ts):
 * one completion request at a time, timed from its first byte sent.
 */

export interface Outcome {
  readonly status: number;
  /** ms from sending to the response's status line (a refusal's latency). */
  readonly headMs: number;
  /** ms from sending to the first SSE data (200 only). */
  readonly ttftMs: number | undefined;
  readonly retryAfter: number | undefined;
  readonly endMs: number;
  /** A refusal's error message. */
  readonly message?: string;
  /** The X-Request-Id sent, and when (performance.now() of this process), when one was given. */
  readonly id?: string;
  readonly sentAt?: number;
}

export const agent = new Agent({ connections: 4096, pipelining: 1, keepAliveTimeout: 30_000 });

/** One completion request through `agent`, its response read whole (SSE timed to its first data). */
export async function streamOnce(url: string, body: string | Buffer, id?: string): Promise<Outcome> {
  const started = performance.now();
  const tag = id === undefined ? {} : { id, sentAt: started };
  try {
    const response = await request(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(id === undefined ? {} : { 'x-request-id': id }) },
      body,
      dispatcher: agent,
    });
    const headMs = performance.now() - started;
    const retry = response.headers['retry-after'];
    let ttftMs: number | undefined;
    let text = '';
    for await (const chunk of response.body) {
      if (ttftMs === undefined && response.statusCode === 200 && (chunk as Buffer).includes('data: {'))
        ttftMs = performance.now() - started;
      if (response.statusCode !== 200 && text.length < 4096) text += chunk.toString();
    }
    const message =
      response.statusCode === 200 ? undefined : (/"message":"([^"]*)/.exec(text)?.[1] ?? text.slice(0, 40));
    return {
      status: response.statusCode,
      headMs,
      ttftMs,
      retryAfter: typeof retry === 'string' ? Number(retry) : undefined,
      endMs: performance.now() - started,
      ...(message === undefined ? {} : { message }),
      ...tag,
    };
  } catch {
    return {
      status: 0,
      headMs: performance.now() - started,
      ttftMs: undefined,
      retryAfter: undefined,
      endMs: 0,
      ...tag,
    };
  }
}

/**
 * A 7 MB completion request body for `model` (ordinary words: refused once its first ~200 kB are
 * read), encoded once: a client's own 7 MB string-to-bytes copy per request is not the server's cost.
 */
export function hugeBody(model: string): Buffer {
  const prompt = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(7_000_000 / 27));
  return Buffer.from(JSON.stringify({ model, prompt, max_tokens: 16 }));
}

/**
 * One completion request over its own connection, its body written PACED_CHUNK bytes at a time as
 * the socket drains and no more once the answer has begun; the answer read to the server's close.
 */
export function sendPaced(url: string, body: Buffer): Promise<Outcome> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  const head = Buffer.from(
    `POST /v1/completions HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n`,
  );
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    let headMs: number | undefined;
    let offset = 0;
    const writeMore = () => {
      while (headMs === undefined && offset < body.length) {
        const end = Math.min(body.length, offset + PACED_CHUNK);
        const more = socket.write(body.subarray(offset, end));
        offset = end;
        if (!more) return;
      }
    };
    socket.on('connect', () => {
      socket.write(head);
      writeMore();
    });
    socket.on('drain', writeMore);
    socket.on('data', (chunk: Buffer) => {
      headMs ??= performance.now() - started;
      if (answer.length < 4096) answer += chunk.toString();
    });
    const finish = () => {
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0);
      resolve({
        status,
        headMs: headMs ?? performance.now() - started,
        ttftMs: undefined,
        retryAfter: undefined,
        endMs: status === 0 ? 0 : performance.now() - started,
      });
    };
    socket.on('end', finish);
    socket.on('error', finish);
  });
}

/** Bytes a paced sender writes at a time. */
const PACED_CHUNK = 64 * 1024;
