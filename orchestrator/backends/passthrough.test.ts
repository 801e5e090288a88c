import { describe, expect, it } from 'vitest';
import type { BackendChunk } from './backend.ts';
import { readPassThroughStream } from './passthrough.ts';

const event = (json: unknown) => `data: ${JSON.stringify(json)}\n\n`;
const token = (text: string) => ({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });

async function chunksOf(reads: string[], includeUsage: boolean): Promise<BackendChunk[]> {
  async function* body() {
    for (const read of reads) yield new TextEncoder().encode(read);
  }
  const openai = { endpoint: 'chat' as const, body: {}, stream: true, includeUsage };
  const out: BackendChunk[] = [];
  for await (const chunk of readPassThroughStream('w0', 'completion', body(), openai, 7)) out.push(chunk);
  return out;
}

describe('pass-through stream', () => {
  it('makes one chunk of the events of one read (payloads verbatim and in order, tokens summed), hides the usage chunk Tandem asked for, and ends with finish and usage', async () => {
    const role = { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
    const finish = { choices: [{ index: 0, delta: { content: '!' }, finish_reason: 'stop' }] };
    const usage = { choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } };
    const reads = [
      event(role) + event(token('Hi')) + event(token(' there')),
      event(finish) + event(usage) + 'data: [DONE]\n\n',
    ];
    expect(await chunksOf(reads, false)).toEqual([
      { tokenIds: [], output: { data: [role, token('Hi'), token(' there')].map((j) => JSON.stringify(j)), tokens: 2 } },
      { tokenIds: [], output: { data: [JSON.stringify(finish)], tokens: 1 } },
      { tokenIds: [], finishReason: 'stop', usage: { promptTokens: 7, cachedPromptTokens: 0, completionTokens: 3 } },
    ]);
    // Asked for by the client: the usage chunk goes through, in the batch it came in.
    const withUsage = await chunksOf(reads, true);
    expect(withUsage[1]).toEqual({
      tokenIds: [],
      output: { data: [JSON.stringify(finish), JSON.stringify(usage)], tokens: 1 },
    });
  });

  it('hands over the payloads before an error event of the same read, then throws upstream_error', async () => {
    async function* body() {
      yield new TextEncoder().encode(`${event(token('a'))}${event({ error: { message: 'engine died' } })}`);
    }
    const openai = { endpoint: 'chat' as const, body: {}, stream: true, includeUsage: false };
    const got: BackendChunk[] = [];
    const failure = await (async () => {
      for await (const chunk of readPassThroughStream('w0', 'completion', body(), openai, 7)) got.push(chunk);
    })().catch((error: unknown) => error);
    expect(got).toEqual([{ tokenIds: [], output: { data: [JSON.stringify(token('a'))], tokens: 1 } }]);
    expect(failure).toMatchObject({ code: 'upstream_error', message: expect.stringContaining('engine died') });
  });

  it('throws upstream_error for a stream without a finish reason', async () => {
    await expect(chunksOf([event(token('a'))], false)).rejects.toMatchObject({ code: 'upstream_error' });
  });
});
