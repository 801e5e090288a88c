import { Worker } from 'node:worker_threads';
import { exceedsJsonDepth, stringEnd } from './json-depth.ts';

/**
 * JSON.parse of large request bodies on a worker thread. Parsing is the one cost of a huge body
 * that no bound can skip (a 7 MB prompt took 70-290 ms of JSON.parse on the event loop of this
 * busy machine, and every stream in the process stalled meanwhile); off the loop, the main thread
 * pays only the copies in and out (a few ms for 7 MB). The depth bound is checked there too.
 * One worker, created on first use, not holding the process open; requests are answered in order.
 */
export type ParsedJson =
  | { readonly ok: true; readonly value: unknown }
  /** too_deep and invalid are the client's (400); parser_failed is ours (the worker thread died). */
  | { readonly ok: false; readonly reason: 'too_deep' | 'invalid' | 'parser_failed'; readonly message: string };

export interface OffThreadJsonParser {
  parse(text: string): Promise<ParsedJson>;
  close(): Promise<void>;
}

/** Bodies at least this long (UTF-16 units) are parsed off the event loop; smaller ones cost less than the hop. */
export const OFF_THREAD_JSON_CHARS = 1 << 20;

export function createOffThreadJsonParser(maxDepth: number | undefined): OffThreadJsonParser {
  let worker: Worker | undefined;
  let nextId = 0;
  const waiting = new Map<number, (result: ParsedJson) => void>();
  const failAll = (message: string) => {
    for (const resolve of waiting.values()) resolve({ ok: false, reason: 'parser_failed', message });
    waiting.clear();
    worker = undefined;
  };
  const start = (): Worker => {
    // Plain JavaScript (eval), so it runs however the main thread loads TypeScript; the depth
    // scan is the same function as on the main thread, passed as its source.
    const source = `
      const { parentPort } = require('node:worker_threads');
      const stringEnd = ${stringEnd.toString()};
      const exceedsJsonDepth = ${exceedsJsonDepth.toString()};
      const maxDepth = ${maxDepth === undefined ? 'undefined' : String(maxDepth)};
      parentPort.on('message', ({ id, text }) => {
        if (maxDepth !== undefined && exceedsJsonDepth(text, maxDepth))
          return parentPort.postMessage({ id, result: { ok: false, reason: 'too_deep', message: '' } });
        try {
          parentPort.postMessage({ id, result: { ok: true, value: JSON.parse(text) } });
        } catch (error) {
          parentPort.postMessage({ id, result: { ok: false, reason: 'invalid', message: error.message } });
        }
      });`;
    const created = new Worker(source, { eval: true });
    created.unref();
    created.on('message', ({ id, result }: { id: number; result: ParsedJson }) => {
      const resolve = waiting.get(id);
      waiting.delete(id);
      resolve?.(result);
    });
    created.on('error', (error) => failAll(`the JSON parser failed: ${error.message}`));
    created.on('exit', () => failAll('the JSON parser stopped'));
    return created;
  };
  return {
    parse(text) {
      worker ??= start();
      const id = nextId++;
      const promise = new Promise<ParsedJson>((resolve) => waiting.set(id, resolve));
      worker.postMessage({ id, text });
      return promise;
    },
    async close() {
      const running = worker;
      worker = undefined;
      await running?.terminate();
    },
  };
}
