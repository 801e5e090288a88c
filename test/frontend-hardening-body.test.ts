import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../common/clock.ts';
import { REFUSED_LINGER_MS } from '../common/openai/read-body.ts';
import { silentLogger } from '../common/log.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../common/tokenizer/index.ts';
import { createSimEngine } from '../workers/engine/index.ts';
import { createHttpFacade } from '../workers/http/index.ts';
import { createWorkerMetrics } from '../workers/metrics/index.ts';
import { createKvPeers } from '../workers/server/index.ts';
import { createFakeCore, MODEL, postJson, reply, startFrontend } from './frontend-harness.ts';

/**
 * Issue 16: a body that must be refused is refused while it is still arriving (common/openai/
 * read-body.ts), over real loopback sockets with a client that is still writing when the answer
 * comes: the 400 reaches it, the server read only part of the body, the connection is closed,
 * and nothing stays held.
 */
let tokenizer: ModelTokenizer;
let wordIds: number[];
beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  wordIds = await tokenizer.tokenizer.encode(' lorem ipsum dolor sit amet', { addSpecialTokens: false });
});

const SEVEN_MB = 'lorem ipsum dolor sit amet '.repeat(7_000_000 / 27);
/** 44 bytes of text without whitespace: many ids, but no word breaks for the scan to count. */
const WORDLESS = 'the_quick_brown_fox_jumps_over_the_lazy_dog.';
const CONTEXT_REFUSAL = /maximum context length is 32768 tokens\. However, your request has at least \d+ input tokens/;

interface SlowPost {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** Body bytes the client had written when the answer's head arrived. */
  readonly writtenAtAnswer: number;
  readonly total: number;
  /** The client's socket closed (by the server) after the answer, within a few seconds. */
  readonly closed: Promise<void>;
}

/** POST `body` with a client that writes 64 kB at a time with a pause between (a throttled writer), until answered. */
function slowPost(url: string, path: string, body: string): Promise<SlowPost> {
  const bytes = Buffer.from(body);
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = httpRequest(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
      agent: false,
    });
    let socket: Socket | undefined;
    req.on('socket', (s) => {
      socket = s;
    });
    req.on('error', (error) => {
      if (!answered) reject(error); // after the answer, writes into the closed connection fail: expected
    });
    req.on('response', (response) => {
      answered = true;
      const writtenAtAnswer = written;
      const closed = new Promise<void>((done) => {
        if (socket!.destroyed) done();
        else socket!.once('close', () => done());
      });
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          body: text,
          writtenAtAnswer,
          total: bytes.length,
          closed,
        }),
      );
    });
    const pump = () => {
      if (answered || req.destroyed || written >= bytes.length) return;
      const chunk = bytes.subarray(written, written + 65_536);
      written += chunk.length;
      req.write(chunk);
      setTimeout(pump, 2);
    };
    pump();
  });
}

/** Bytes the server read on each connection, as each one closes. */
function serverReads(server: { on(event: 'connection', listener: (socket: Socket) => void): unknown }): number[] {
  const reads: number[] = [];
  server.on('connection', (socket) => socket.once('close', () => reads.push(socket.bytesRead)));
  return reads;
}

describe('a body refused while it arrives', () => {
  it('answers a 7 MB prompt with the context 400 while the client is still sending it, reads no more of it, and holds nothing', async () => {
    const core = createFakeCore(reply(wordIds));
    // One slot, no queue: a slot left held would turn the next request into a 429.
    const frontend = await startFrontend(core, tokenizer, { admission: { max_inflight: 1, max_queued: 0 } });
    const reads = serverReads(frontend.app.server);
    try {
      for (const [path, body, param] of [
        ['/v1/completions', { model: MODEL, prompt: SEVEN_MB, max_tokens: 16 }, 'prompt'],
        ['/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: SEVEN_MB }] }, 'messages'],
      ] as const) {
        const answer = await slowPost(frontend.url, path, JSON.stringify(body));
        expect(answer.status).toBe(400);
        // The context refusal a whole body gets (prepare-request.ts), in vLLM's error shape.
        expect(JSON.parse(answer.body).error).toEqual({
          message: expect.stringMatching(CONTEXT_REFUSAL),
          type: 'BadRequestError',
          param,
          code: 400,
        });
        expect(answer.headers.connection).toBe('close');
        // Answered while the client was still writing: 32,768 word breaks are in the first 180 kB (the length
        // bound alone needed 4.2 MB: 32,768 ids x 128 bytes); the rest is the answer's trip on a busy machine.
        expect(answer.writtenAtAnswer).toBeLessThan(answer.total * 0.5);
        await answer.closed;
      }
      // The server read nothing more of them: it cuts each connection at the end of its linger (the
      // client's close sits behind the unread rest of its body).
      await expect.poll(() => reads.length, { timeout: REFUSED_LINGER_MS + 3000 }).toBe(2);
      for (const read of reads) expect(read).toBeLessThan(7_000_000 * 0.5);
      expect(core.calls).toHaveLength(0);
      // The server's side of both refusals, in its metric.
      expect(await frontend.metrics.render()).toMatch(/^tandem_body_refusal_seconds_count 2$/m);
      // The front door serves on, its one slot free.
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' })).status).toBe(200);
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'y' })).status).toBe(200);
    } finally {
      await frontend.close();
    }
  });

  it('gives a whole-body client (fetch) the same 400 for a 7 MB prompt, and refuses a body nested too deep before its end', async () => {
    const frontend = await startFrontend(createFakeCore(reply(wordIds)), tokenizer);
    try {
      const huge = await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: SEVEN_MB });
      expect(huge.status).toBe(400);
      expect(huge.json.error.message).toMatch(CONTEXT_REFUSAL);
      const deep = await slowPost(
        frontend.url,
        '/v1/completions',
        `{"model": "${MODEL}", "prompt": "x", "user": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`,
      );
      expect(deep.status).toBe(400);
      expect(JSON.parse(deep.body).error.message).toMatch(/nests JSON deeper than \d+ levels/);
      expect(deep.writtenAtAnswer).toBeLessThan(deep.total);
      await deep.closed; // within the linger (2 s) after the answer, though the client never finished its body
    } finally {
      await frontend.close();
    }
  });

  it('still reads to its end, parses (off the event loop) and checks as before a body the scan cannot refuse', async () => {
    const core = createFakeCore(reply(wordIds));
    const frontend = await startFrontend(core, tokenizer, { max_body_bytes: 16 * 1024 * 1024 });
    try {
      // 1.2 MB of text the bounds let through (9,375 ids by its length, no word breaks; the off-thread parser reads it): tokenized, then refused.
      const prompt = WORDLESS.repeat(1_200_000 / 44);
      const answer = await slowPost(frontend.url, '/v1/completions', JSON.stringify({ model: MODEL, prompt }));
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error.message).toMatch(/However, your request has at least \d+ input tokens/);
      expect(answer.writtenAtAnswer).toBe(answer.total);
      const small = await slowPost(frontend.url, '/v1/completions', JSON.stringify({ model: MODEL, prompt: 'hi' }));
      expect(small.status).toBe(200);
      // Refused once whole: not a refusal while the body arrived.
      expect(await frontend.metrics.render()).toMatch(/^tandem_body_refusal_seconds_count 0$/m);
    } finally {
      await frontend.close();
    }
  });
});

describe("the worker facade's prompt bounds", () => {
  it('refuses a 7 MB prompt as it arrives, and tokenizes a prompt that cannot fit only up to the context', async () => {
    let encoded = 0;
    let bounded = 0;
    const inner = tokenizer.tokenizer;
    const counting: ModelTokenizer = {
      ...tokenizer,
      tokenizer: {
        ...inner,
        encode: (text, options) => (encoded++, inner.encode(text, options)),
        encodeWithin: (text, options) => (bounded++, inner.encodeWithin(text, options)),
      },
    };
    const engine = createSimEngine(
      { timeScale: 1000, numBlocks: 256, engineId: 'sim-bounds', maxModelLen: 1024 },
      { clock: realClock },
    );
    const peers = createKvPeers({ engine, timeoutMs: 1000 });
    const facade = createHttpFacade({
      engine,
      peers,
      modelTokenizer: counting,
      tokenizer: counting.tokenizer,
      metrics: createWorkerMetrics({
        info: engine.info,
        status: () => engine.status(),
        modelName: MODEL,
        clock: realClock,
      }),
      modelNames: [MODEL],
      self: () => ({ host: '127.0.0.1', port: 1 }),
      loadFailurePolicy: 'recompute',
      holdTimeoutMs: 480_000,
      clock: realClock,
      logger: silentLogger,
      maxBodyBytes: 16 * 1024 * 1024,
    });
    try {
      await facade.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = facade.app.server.address() as { port: number };
      const url = `http://127.0.0.1:${port}`;
      const huge = await slowPost(url, '/v1/completions', JSON.stringify({ model: MODEL, prompt: SEVEN_MB }));
      expect(huge.status).toBe(400);
      expect(JSON.parse(huge.body).error.message).toMatch(
        /maximum context length is 1024 tokens\. However, your request has at least/,
      );
      expect(huge.writtenAtAnswer).toBeLessThan(huge.total);
      expect([encoded, bounded]).toEqual([0, 0]);
      // 60 kB: at least 468 ids by its length and no word breaks (the bounds cannot rule it out), thousands in fact.
      const prompt = WORDLESS.repeat(60_000 / 44);
      const response = await postJson(`${url}/v1/completions`, { model: MODEL, prompt, max_tokens: 8 });
      expect(response.status).toBe(400);
      expect(response.json.error.message).toMatch(/However, your request has at least 10\d\d input tokens/);
      expect([encoded, bounded]).toEqual([0, 1]);
      expect((await postJson(`${url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 2 })).status).toBe(200);
    } finally {
      await facade.close();
      peers.close();
      await engine.close();
    }
  });
});
