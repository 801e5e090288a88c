import type { ServerResponse } from 'node:http';

/**
 * Server-sent events as OpenAI streams them: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at
 * the end. Headers go out with the first event, so an error before it can still be a plain HTTP
 * error. Writes respect backpressure: a write the socket could not take at once returns a
 * promise that settles once it has (or the client is gone), so a slow reader slows the
 * generation instead of growing a buffer.
 */
export interface SseWriter {
  /** Whether any bytes (and so the 200 status) have gone out. */
  readonly started: boolean;
  send(data: unknown): Promise<void>;
  /**
   * Writes one already-built event (`data: ...\n\n`). Returns undefined when the socket took it
   * (the per-token path: no promise), else a promise that settles on drain or close.
   */
  write(event: string): Promise<void> | undefined;
  /** Sends `data: [DONE]` and ends the response. */
  done(): Promise<void>;
}

export function createSseWriter(res: ServerResponse, headers: Readonly<Record<string, string>>): SseWriter {
  let started = false;
  const write = (text: string): Promise<void> | undefined => {
    if (res.destroyed || res.writableEnded) return undefined;
    if (!started) {
      started = true;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no', ...headers });
    }
    if (res.write(text)) return undefined;
    return new Promise<void>((resolve) => {
      const settle = () => {
        res.off('drain', settle);
        res.off('close', settle);
        resolve();
      };
      res.on('drain', settle);
      res.on('close', settle);
    });
  };
  return {
    get started() {
      return started;
    },
    write,
    send: async (data) => write(`data: ${JSON.stringify(data)}\n\n`),
    async done() {
      await write('data: [DONE]\n\n');
      if (!res.destroyed && !res.writableEnded) res.end();
    },
  };
}
