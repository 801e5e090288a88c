import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { FinishReason, WorkerRole, WorkerService } from '../../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcServer, type GrpcServer } from '../../proto/grpc/index.ts';
import { greedySampling } from '../../test/fakes/engine-calls.ts';
import type { WorkerBackend } from './backend.ts';
import { createGrpcBackend } from './grpc-backend.ts';

const sampling = greedySampling(8);
const call = (requestId: string) => ({
  requestId,
  model: '',
  tokenIds: [1, 2, 3],
  sampling,
  deadlineUnixMs: Date.now() + 10_000,
});

/** The grpc backend's token stream: batching, and how a finished call ends on the worker. */
describe('grpc backend token stream', () => {
  let server: GrpcServer;
  let backend: WorkerBackend;
  const endings = new Map<string, string>();

  beforeAll(async () => {
    server = createGrpcServer();
    server.add(WorkerService, {
      async *generate(request, context) {
        try {
          // A burst of 8 single-token messages, then the finish (after a pause for the "late" request).
          for (let i = 0; i < 8; i++) yield { tokenIds: [100 + i] };
          if (request.requestId.startsWith('late')) await sleep(200, undefined, { signal: context.signal });
          yield { finishReason: FinishReason.LENGTH, usage: { promptTokens: 3, completionTokens: 8 } };
          // Give a cancel from the client time to arrive before the handler counts as finished.
          await sleep(100, undefined, { signal: context.signal });
          endings.set(request.requestId, 'completed');
        } catch {
          endings.set(request.requestId, context.signal.aborted ? 'cancelled' : 'error');
        }
      },
      prefill: () => Promise.reject(new Error('not used')),
      decode: () => (async function* () {})(),
      pullKv: async () => ({ held: false }),
      releaseKv: async () => ({ found: false }),
      getStatus: async () => ({ engineId: 'e', role: WorkerRole.BOTH, blockSize: 16 }),
    });
    const port = await server.listen('127.0.0.1', 0);
    backend = createGrpcBackend({ name: 'w', address: `127.0.0.1:${port}` });
  });

  afterAll(async () => {
    await backend?.close();
    await server?.close(200);
  });

  it('merges the token messages that arrived while nobody read into one chunk', async () => {
    const stream = backend.generate(call('late'), new AbortController().signal);
    expect((stream as { coalesced?: boolean }).coalesced).toBe(true);
    const iterator = stream[Symbol.asyncIterator]();
    await sleep(100); // the burst of 8 is buffered by now, the finish is not
    const first = await iterator.next();
    expect(first.value?.tokenIds).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    const last = await iterator.next();
    expect(last.value).toMatchObject({
      tokenIds: [],
      finishReason: 'length',
      usage: { promptTokens: 3, completionTokens: 8 },
    });
    await iterator.return?.();
  });

  it('lets a finished call end on the worker instead of cancelling it', async () => {
    const tokens: number[] = [];
    for await (const chunk of backend.generate(call('done'), new AbortController().signal)) {
      tokens.push(...chunk.tokenIds);
      if (chunk.finishReason) break; // as the dispatcher does: stop at the final chunk
    }
    expect(tokens).toHaveLength(8);
    await expect.poll(() => endings.get('done')).toBe('completed');
  });

  it('cancels the call on the worker when the consumer stops before the end', async () => {
    for await (const chunk of backend.generate(call('late-early'), new AbortController().signal))
      if (chunk.tokenIds.length > 0) break;
    await expect.poll(() => endings.get('late-early')).toBe('cancelled');
  });
});
