import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../common/errors.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../common/tokenizer/index.ts';
import type { Behaviour } from './frontend-harness.ts';
import { closeFrontend, trackOpenResponses } from '../orchestrator/frontend/index.ts';
import { createFakeCore, hang, MODEL, postJson, reply, sseEvents, startFrontend } from './frontend-harness.ts';

/**
 * Issue 16: nothing a client sends or withholds stalls the front door or pins its resources.
 * Real sockets: the point is what a client does with its connection.
 */
let tokenizer: ModelTokenizer;
let wordIds: number[];
beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  wordIds = await tokenizer.tokenizer.encode(' lorem ipsum dolor sit amet', { addSpecialTokens: false });
});

const sockets: Socket[] = [];
afterAll(() => sockets.forEach((s) => s.destroy()));

/** Streams text until aborted, as fast as the writer takes it. */
const endless: Behaviour = async function* (_request, signal) {
  const ids = Array.from({ length: 512 }, (_, i) => wordIds[i % wordIds.length]!);
  while (!signal.aborted) {
    yield { kind: 'tokens', tokenIds: ids };
    await new Promise((resolve) => setImmediate(resolve));
  }
  yield { kind: 'done', finishReason: 'abort', usage: { promptTokens: 1, cachedPromptTokens: 0, completionTokens: 0 } };
};

/** A raw HTTP/1.1 request on its own socket; the caller decides whether to read the answer. */
function rawRequest(url: string, body: unknown, headers: Record<string, string> = {}): Socket {
  const { port } = new URL(url);
  const text = JSON.stringify(body);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  const head = Object.entries({
    host: 'x',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`POST /v1/completions HTTP/1.1\r\n${head}\r\n${text}`);
  return socket;
}

describe('a client that stops reading', () => {
  it('is cut off within the write timeout: the core call is cancelled, the admission slot freed, the socket closed, and the metric counts it', async () => {
    const core = createFakeCore(endless);
    const frontend = await startFrontend(core, tokenizer, {
      client_write_timeout_s: 0.5,
      admission: { max_inflight: 1, max_queued: 0 },
    });
    try {
      const socket = rawRequest(frontend.url, {
        model: MODEL,
        prompt: 'tell me everything',
        stream: true,
        max_tokens: 20_000,
      });
      socket.pause(); // never reads: the server's writes back up
      const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
      await core.called(1);
      const started = performance.now();
      // While it holds the one slot, others are refused.
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' })).status).toBe(429);
      await core.abortedCall(0);
      const releasedAfterMs = performance.now() - started;
      // Kernel buffers fill first (a few MB at loopback speed), then 0.5 s without progress, checked every 125 ms.
      expect(releasedAfterMs).toBeLessThan(0.5 * 1250 + 3000);
      expect(core.calls[0]!.signal.reason).toMatchObject({ code: 'cancelled' });
      // The server destroyed its end: the client, once it reads again, finds the stream closed.
      socket.resume();
      expect(await closed).toBeGreaterThan(started);
      core.behaviour = reply(wordIds);
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'y' })).status).toBe(200);
      expect(await frontend.metrics.render()).toMatch(/^tandem_client_write_timeouts_total 1$/m);
    } finally {
      await frontend.close();
    }
  });

  it('leaves a slow reader that keeps taking bytes alone', async () => {
    const core = createFakeCore(
      reply(
        Array.from({ length: 4000 }, (_, i) => wordIds[i % wordIds.length]!),
        { perEvent: 50 },
      ),
    );
    const frontend = await startFrontend(core, tokenizer, { client_write_timeout_s: 0.3 });
    try {
      const socket = rawRequest(frontend.url, { model: MODEL, prompt: 'slowly', stream: true, max_tokens: 20_000 });
      let received = '';
      // Reads a little every 100 ms: slower than the server writes, never stalled for 0.3 s.
      socket.pause();
      const reader = setInterval(() => {
        let chunk: Buffer | null;
        while ((chunk = socket.read() as Buffer | null) !== null) received += chunk.toString();
      }, 100);
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (received.includes('data: [DONE]')) clearInterval(check), resolve();
        }, 50);
      });
      clearInterval(reader);
      expect(received).toContain('data: [DONE]');
      expect(await frontend.metrics.render()).toMatch(/^tandem_client_write_timeouts_total 0$/m);
    } finally {
      await frontend.close();
    }
  });
});

describe('Connection: close', () => {
  it('is honoured on a streaming response: the server says close and ends the connection after the stream', async () => {
    const core = createFakeCore(reply(wordIds));
    const frontend = await startFrontend(core, tokenizer);
    try {
      const socket = rawRequest(
        frontend.url,
        { model: MODEL, prompt: 'x', stream: true, max_tokens: 16 },
        { connection: 'close' },
      );
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(received).toMatch(/^connection: close\r$/im);
      expect(received).toContain('data: [DONE]');
    } finally {
      await frontend.close();
    }
  });
});

describe('a deeply nested body', () => {
  it('is refused with 400 naming the limit, and the server keeps serving', async () => {
    const core = createFakeCore(reply(wordIds));
    const frontend = await startFrontend(core, tokenizer);
    try {
      // Under a megabyte the scan runs on the event loop; from one megabyte, on the JSON worker thread.
      for (const levels of [500_000, 1_000_000]) {
        const body = `{"model":"${MODEL}","prompt":"x","user":${'['.repeat(levels)}${']'.repeat(levels)}}`;
        const response = await fetch(`${frontend.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
          'deeper than 128 levels',
        );
      }
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' })).status).toBe(200);
      expect(core.calls).toHaveLength(1);
    } finally {
      await frontend.close();
    }
  });
});

/** The tokenizer, with a count of the calls that tokenize. */
function countingTokenizer(): { model: ModelTokenizer; tokenized: () => number } {
  let calls = 0;
  const inner = tokenizer.tokenizer;
  return {
    model: {
      ...tokenizer,
      tokenizer: {
        ...inner,
        encode: (text, options) => (calls++, inner.encode(text, options)),
        encodeWithin: (text, options) => (calls++, inner.encodeWithin(text, options)),
      },
    },
    tokenized: () => calls,
  };
}

describe('bounds before work', () => {
  it('refuses a 7 MB prompt with 400 from its length alone, without tokenizing it, and keeps serving', async () => {
    const core = createFakeCore(reply(wordIds));
    const counting = countingTokenizer();
    const frontend = await startFrontend(core, counting.model);
    try {
      const prompt = 'lorem ipsum dolor sit amet '.repeat(7_000_000 / 27);
      for (const body of [
        { model: MODEL, prompt },
        { model: MODEL, messages: [{ role: 'user', content: prompt }] },
      ]) {
        const response = await postJson(`${frontend.url}/v1/${'prompt' in body ? '' : 'chat/'}completions`, body);
        expect(response.status).toBe(400);
        expect(response.json.error.message).toMatch(
          /maximum context length is 32768 tokens\. However, your request has at least \d+ input tokens/,
        );
      }
      expect(counting.tokenized()).toBe(0);
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' })).status).toBe(200);
      expect(core.calls).toHaveLength(1);
    } finally {
      await frontend.close();
    }
  });

  it('refuses a prompt the length bound lets through after tokenizing about max_model_len ids of it', async () => {
    const core = createFakeCore(reply(wordIds));
    const frontend = await startFrontend(core, tokenizer, { max_model_len: 1024 });
    try {
      // 60 kB of text with no whitespace: at least 468 ids by its length and no word breaks (the bounds cannot rule it out), thousands in fact.
      const prompt = 'the_quick_brown_fox_jumps_over_the_lazy_dog.'.repeat(60_000 / 44);
      const response = await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt });
      expect(response.status).toBe(400);
      expect(response.json.error.message).toMatch(/However, your request has at least 10\d\d input tokens/);
      expect(core.calls).toHaveLength(0);
    } finally {
      await frontend.close();
    }
  });

  it("refuses with the core's 429 before tokenizing when the core would refuse the arrival", async () => {
    const core = createFakeCore(reply(wordIds));
    const refusal = new TandemError('rate_limited', 'every worker is saturated; retry later', { retryAfterS: 3 });
    const refusing: typeof core = Object.assign(core, { refusal: () => refusal });
    const counting = countingTokenizer();
    const frontend = await startFrontend(refusing, counting.model);
    try {
      const response = await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'hello there' });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('3');
      expect(counting.tokenized()).toBe(0);
      expect(core.calls).toHaveLength(0);
    } finally {
      await frontend.close();
    }
  });
});

/** Streams `n` words, then waits for its signal (a request that outlives its timeout). */
function wordsThenHang(n: number): Behaviour {
  return async function* (_request, signal) {
    if (n > 0) yield { kind: 'tokens', tokenIds: wordIds.slice(0, n) };
    yield* hang(_request, signal);
  };
}

/** Like a worker whose own deadline fires first: `n` words, then finish "abort" just before the deadline. */
function wordsThenWorkerDeadline(n: number): Behaviour {
  return async function* (request) {
    if (n > 0) yield { kind: 'tokens', tokenIds: wordIds.slice(0, n) };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, request.deadlineUnixMs - Date.now() - 300)));
    yield {
      kind: 'done',
      finishReason: 'abort',
      usage: { promptTokens: 3, cachedPromptTokens: 0, completionTokens: n },
    };
  };
}

const TIMEOUT_MESSAGE = 'the request ran longer than 0.8 s';

describe('a request that runs past request_timeout_s ends one way', () => {
  for (const [name, behaviour] of [
    ['the frontend timer', wordsThenHang],
    ['a worker deadline (finish "abort")', wordsThenWorkerDeadline],
  ] as const) {
    it(`before the first token: 504 with one message, streaming or not (${name})`, async () => {
      const core = createFakeCore(behaviour(0));
      const frontend = await startFrontend(core, tokenizer, { request_timeout_s: 0.8 });
      try {
        for (const stream of [false, true]) {
          const response = await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x', stream });
          expect(response.status).toBe(504);
          expect(response.json.error.message).toBe(TIMEOUT_MESSAGE);
        }
      } finally {
        await frontend.close();
      }
    });

    it(`after the first token: a stream ends with an error event then [DONE]; a whole response is a 504, never a 200 (${name})`, async () => {
      const core = createFakeCore(behaviour(3));
      const frontend = await startFrontend(core, tokenizer, { request_timeout_s: 0.8 });
      try {
        const streamed = await postJson(`${frontend.url}/v1/chat/completions`, {
          model: MODEL,
          messages: [{ role: 'user', content: 'x' }],
          stream: true,
        });
        expect(streamed.status).toBe(200);
        const events = sseEvents(streamed.text) as any[];
        expect(events.at(-1)).toBe('[DONE]');
        expect(events.at(-2)).toMatchObject({ error: { message: TIMEOUT_MESSAGE } });
        // No chunk claims the answer finished.
        expect(events.slice(0, -2).every((e) => e.choices?.[0]?.finish_reason == null)).toBe(true);
        const whole = await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' });
        expect(whole.status).toBe(504);
        expect(whole.json.error.message).toBe(TIMEOUT_MESSAGE);
      } finally {
        await frontend.close();
      }
    });
  }

  it('a worker that aborts a request long before its deadline is an upstream error, not a complete answer', async () => {
    const core = createFakeCore(async function* () {
      yield { kind: 'tokens', tokenIds: wordIds.slice(0, 2) };
      yield {
        kind: 'done',
        finishReason: 'abort',
        usage: { promptTokens: 1, cachedPromptTokens: 0, completionTokens: 2 },
      };
    });
    const frontend = await startFrontend(core, tokenizer);
    try {
      const whole = await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' });
      expect(whole.status).toBe(502);
      expect(whole.json.error.message).toContain('aborted the request before it finished');
    } finally {
      await frontend.close();
    }
  });
});

describe('a stream cut by shutdown', () => {
  it('ends with an SSE error event and [DONE], not a silent close', async () => {
    const core = createFakeCore(wordsThenHang(3));
    const frontend = await startFrontend(core, tokenizer);
    const open = trackOpenResponses(frontend.app.server);
    const socket = rawRequest(frontend.url, { model: MODEL, prompt: 'x', stream: true });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await core.called(1);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (received.includes('data: {')) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    await closeFrontend(frontend.app, open);
    await closed;
    expect(received).toMatch(/data: \{"error":\{"message":"the server is shutting down"/);
    expect(received).toContain('data: [DONE]');
  });
});
