import { describe, expect, it } from 'vitest';
import type { BackendChunk } from '../backends/index.ts';
import { coalesceChunks } from './coalesce.ts';

async function collect(source: AsyncIterable<BackendChunk>): Promise<BackendChunk[]> {
  const out: BackendChunk[] = [];
  for await (const chunk of coalesceChunks(source)) out.push(chunk);
  return out;
}

const done: BackendChunk = {
  tokenIds: [],
  finishReason: 'length',
  usage: { promptTokens: 3, cachedPromptTokens: 0, completionTokens: 4 },
};

describe('coalescing token chunks', () => {
  it('merges chunks that are ready at once, keeping order, and ends with the final chunk', async () => {
    async function* ready() {
      yield { tokenIds: [1] };
      yield { tokenIds: [2, 3] };
      yield { tokenIds: [4] };
      yield done;
    }
    const out = await collect(ready());
    expect(out.flatMap((c) => c.tokenIds)).toEqual([1, 2, 3, 4]);
    expect(out.length).toBeLessThan(4);
    expect(out.at(-1)).toMatchObject({ finishReason: 'length', usage: done.usage });
    expect(out.slice(0, -1).every((c) => c.finishReason === undefined)).toBe(true);
  });

  it('passes chunks that arrive apart through one by one', async () => {
    async function* spaced() {
      for (const id of [1, 2, 3]) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield { tokenIds: [id] };
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      yield done;
    }
    const out = await collect(spaced());
    expect(out.map((c) => c.tokenIds)).toEqual([[1], [2], [3], []]);
  });

  it('rethrows a failure after yielding what came before it', async () => {
    async function* failing() {
      yield { tokenIds: [1] };
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error('worker died');
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const chunk of coalesceChunks(failing())) seen.push(...chunk.tokenIds);
      })(),
    ).rejects.toThrow('worker died');
    expect(seen).toEqual([1]);
  });

  it('closes the source when the consumer stops early, without an unhandled rejection', async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          yield { tokenIds: [i] };
        }
      } finally {
        closed = true;
      }
    }
    for await (const chunk of coalesceChunks(endless())) {
      expect(chunk.tokenIds).toEqual([0]);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(true);
  });
});
