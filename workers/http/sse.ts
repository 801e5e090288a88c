import type { ServerResponse } from 'node:http';

/**
 * Server-sent events as vLLM streams them: `data: <json>\n\n` per chunk and `data: [DONE]\n\n`
 * at the end. The 200 status goes out with the first event, so a failure before it is still a
 * plain HTTP error. `send` waits for the socket to drain (or close), so a slow client slows its
 * own request rather than growing a buffer.
 */
export interface SseWriter {
  /** Whether the status line and any event have gone out. */
  readonly started: boolean;
  send(data: unknown): Promise<void>;
  /** `data: [DONE]`, then ends the response. */
  done(): Promise<void>;
}

export function createSseWriter(res: ServerResponse, headers: Readonly<Record<string, string>>): SseWriter {
  let started = false;
  const write = async (text: string): Promise<void> => {
    if (res.destroyed || res.writableEnded) return;
    if (!started) {
      started = true;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
    }
    if (res.write(text)) return;
    await new Promise<void>((resolve) => {
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
    send: (data) => write(`data: ${JSON.stringify(data)}\n\n`),
    async done() {
      await write('data: [DONE]\n\n');
      if (!res.destroyed && !res.writableEnded) res.end();
    },
  };
}
