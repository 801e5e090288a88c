import { Worker } from 'node:worker_threads';

/**
 * JSON.parse of large request bodies on a worker thread. Parsing is the one cost of a huge body
 * that no bound can skip (a 7 MB prompt took 70-290 ms of JSON.parse on the event loop of this
 * busy machine, and every stream in the process stalled meanwhile); off the loop, the main thread
 * pays only the parsed value's copy back: the body's bytes are moved (transferred, not copied) and
 * decoded there. The nesting depth was checked as the body arrived (body-scan.ts).
 * One worker, created on first use, not holding the process open; requests are answered in order.
 */
export type ParsedJson =
  | { readonly ok: true; readonly value: unknown }
  /** invalid is the client's (400); parser_failed is ours (the worker thread died). */
  | { readonly ok: false; readonly reason: 'invalid' | 'parser_failed'; readonly message: string };

export interface OffThreadJsonParser {
  /**
   * The JSON value of a UTF-8 body (undefined for an all-whitespace one). `bytes` is moved to the
   * worker when it owns its whole buffer (unusable afterwards), copied otherwise.
   */
  parse(bytes: Uint8Array): Promise<ParsedJson>;
  close(): Promise<void>;
}

/** Bodies of at least this many bytes are parsed off the event loop; smaller ones cost less than the hop. */
export const OFF_THREAD_JSON_BYTES = 1 << 20;

export function createOffThreadJsonParser(): OffThreadJsonParser {
  let worker: Worker | undefined;
  let nextId = 0;
  const waiting = new Map<number, (result: ParsedJson) => void>();
  const failAll = (message: string) => {
    for (const resolve of waiting.values()) resolve({ ok: false, reason: 'parser_failed', message });
    waiting.clear();
    worker = undefined;
  };
  const start = (): Worker => {
    // Plain JavaScript (eval), so it runs however the main thread loads TypeScript.
    const source = `
      const { parentPort } = require('node:worker_threads');
      const decoder = new TextDecoder();
      parentPort.on('message', ({ id, bytes }) => {
        const text = decoder.decode(bytes);
        if (text.trim() === '') return parentPort.postMessage({ id, result: { ok: true, value: undefined } });
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
    parse(bytes) {
      worker ??= start();
      const id = nextId++;
      const promise = new Promise<ParsedJson>((resolve) => waiting.set(id, resolve));
      const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      worker.postMessage({ id, bytes }, owned ? [bytes.buffer as ArrayBuffer] : []);
      return promise;
    },
    async close() {
      const running = worker;
      worker = undefined;
      await running?.terminate();
    },
  };
}
