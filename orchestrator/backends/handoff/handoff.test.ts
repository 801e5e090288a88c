import { describe, expect, it } from 'vitest';
import { TandemError } from '../../../common/errors.ts';
import { silentLogger } from '../../../common/log.ts';
import { greedySampling } from '../../../test/fakes/engine-calls.ts';
import type {
  BackendChunk,
  BackendKind,
  BackendPrefillResult,
  DecodeCall,
  GenerateCall,
  KvHandoffTicket,
  WorkerBackend,
} from '../backend.ts';
import { startEagerly } from './eager.ts';
import type { HandoffCall, HandoffPeer } from './protocol.ts';
import { createHandoffProtocols } from './registry.ts';

/**
 * Each handoff protocol's session against in-memory backends that record what they were asked:
 * what goes to which worker, in which order, what the dispatcher is told about the first token
 * and retries, and how failures on one side reach the other.
 */

interface Recorded {
  readonly method: 'generate' | 'prefill' | 'decode' | 'release';
  readonly call: GenerateCall | DecodeCall | KvHandoffTicket;
  aborted: boolean;
  readonly startedAt: number;
}

let tick = 0;

function stubBackend(
  kind: BackendKind,
  behaviour: {
    prefill?: () => Promise<BackendPrefillResult>;
    tokens?: number[];
    failGenerate?: TandemError;
    generateDelayMs?: number;
  } = {},
): WorkerBackend & { calls: Recorded[] } {
  const calls: Recorded[] = [];
  async function* stream(
    call: GenerateCall,
    signal: AbortSignal,
    method: 'generate' | 'decode',
  ): AsyncGenerator<BackendChunk> {
    const record: Recorded = { method, call, aborted: false, startedAt: ++tick };
    calls.push(record);
    signal.addEventListener('abort', () => (record.aborted = true), { once: true });
    if (behaviour.generateDelayMs) await new Promise((resolve) => setTimeout(resolve, behaviour.generateDelayMs));
    if (signal.aborted) throw new TandemError('cancelled', 'aborted');
    if (behaviour.failGenerate) throw behaviour.failGenerate;
    const tokens = behaviour.tokens ?? [7, 8, 9];
    const limit = Math.min(tokens.length, call.sampling.maxTokens);
    for (let i = 0; i < limit; i++) yield { tokenIds: [tokens[i]!] };
    yield {
      tokenIds: [],
      finishReason: 'length',
      usage: { promptTokens: call.tokenIds.length, cachedPromptTokens: 0, completionTokens: limit },
    };
  }
  return {
    kind,
    address: kind === 'grpc' ? '10.0.0.9:50051' : 'http://10.0.0.9:8000',
    calls,
    generate: (call, signal) => stream(call, signal, 'generate'),
    async prefill(call) {
      calls.push({ method: 'prefill', call, aborted: false, startedAt: ++tick });
      if (behaviour.prefill) return behaviour.prefill();
      return {
        firstTokenId: 7,
        finishReason: null,
        usage: { promptTokens: call.tokenIds.length, cachedPromptTokens: 16, completionTokens: 1 },
        handoff:
          kind === 'grpc'
            ? { kind: 'tandem', handoff: { port: 1 }, remoteRequestId: 'held-1' }
            : { kind: 'nixl', params: { remote_block_ids: [[1]] } },
      };
    },
    decode: (call, signal) => stream(call, signal, 'decode'),
    async release(ticket) {
      calls.push({ method: 'release', call: ticket, aborted: false, startedAt: ++tick });
      return { found: true, releasedBlocks: 1 };
    },
    status: () => Promise.reject(new Error('unused')),
    close: async () => undefined,
  };
}

const peer = (name: string, backend: WorkerBackend, extra: Partial<HandoffPeer> = {}): HandoffPeer => ({
  name,
  backend,
  model: `model-of-${name}`,
  dpRank: undefined,
  ...extra,
});
const call = (temperature = 0): HandoffCall => ({
  requestId: 'req-1',
  tokenIds: [1, 2, 3, 4],
  sampling: greedySampling(3, { temperature, minTokens: 2 }),
  deadlineUnixMs: Number.MAX_SAFE_INTEGER,
});
const protocols = createHandoffProtocols({ logger: silentLogger, randomHex: (bytes) => 'ab'.repeat(bytes) });

async function collect(stream: AsyncIterable<BackendChunk>): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of stream) out.push(...chunk.tokenIds);
  return out;
}

describe('the protocol registry', () => {
  it('defaults by backend, and refuses an unknown protocol or one over the wrong backend, naming what is known', () => {
    expect(protocols.get(undefined, 'grpc').name).toBe('tandem');
    expect(protocols.get(undefined, 'vllm-http').name).toBe('nixl');
    expect(() => protocols.get('mooncake', 'vllm-http')).toThrow(
      /unknown KV handoff protocol "mooncake" \(known: tandem, nixl, p2p-nccl, sglang\)/,
    );
    expect(() => protocols.get('sglang', 'grpc')).toThrow(/runs over backend vllm-http, not grpc/);
  });
});

describe('tandem (gRPC)', () => {
  it('hands the first token over at once, decodes after it with the handoff, and releases the hold once', async () => {
    const P = stubBackend('grpc');
    const D = stubBackend('grpc');
    const session = protocols
      .get('tandem', 'grpc')
      .open({ call: call(), prefill: peer('p', P), decode: peer('d', D), signal: new AbortController().signal });
    const step = await session.prefill();
    expect(step).toMatchObject({
      firstTokenId: 7,
      finishReason: null,
      decodeRepeatsFirstToken: false,
      decodeRetryable: true,
      usage: { cachedPromptTokens: 16 },
    });
    expect(P.calls[0]!.call).toMatchObject({ model: 'model-of-p', requestId: 'req-1' });
    await collect(session.decode(peer('d', D)));
    expect(D.calls[0]!.call).toMatchObject({
      model: 'model-of-d',
      firstTokenId: 7,
      handoff: { kind: 'tandem', remoteRequestId: 'held-1' },
    });
    await session.release();
    await session.release();
    expect(P.calls.filter((c) => c.method === 'release')).toHaveLength(1);
  });
});

describe('nixl (vLLM)', () => {
  it("sends a greedy request's first token at once and says the decode stream repeats it", async () => {
    const session = protocols.get('nixl', 'vllm-http').open({
      call: call(0),
      prefill: peer('p', stubBackend('vllm-http')),
      decode: peer('d', stubBackend('vllm-http')),
      signal: new AbortController().signal,
    });
    expect(await session.prefill()).toMatchObject({
      firstTokenId: 7,
      decodeRepeatsFirstToken: true,
      decodeRetryable: true,
    });
  });

  it("leaves a sampled request's first token to the decode stream", async () => {
    const D = stubBackend('vllm-http');
    const session = protocols.get('nixl', 'vllm-http').open({
      call: call(0.7),
      prefill: peer('p', stubBackend('vllm-http')),
      decode: peer('d', D),
      signal: new AbortController().signal,
    });
    expect(await session.prefill()).toMatchObject({ firstTokenId: null, decodeRepeatsFirstToken: false });
    expect(await collect(session.decode(peer('d', D)))).toEqual([7, 8, 9]);
    expect(D.calls[0]!.call).toMatchObject({ handoff: { kind: 'nixl', params: { remote_block_ids: [[1]] } } });
  });

  it('sends the decode worker the original request alone when the prefill answered no params', async () => {
    const P = stubBackend('vllm-http', {
      prefill: async () => ({
        firstTokenId: 7,
        finishReason: null,
        usage: { promptTokens: 4, cachedPromptTokens: 0, completionTokens: 1 },
        handoff: null,
      }),
    });
    const D = stubBackend('vllm-http');
    const session = protocols
      .get('nixl', 'vllm-http')
      .open({ call: call(), prefill: peer('p', P), decode: peer('d', D), signal: new AbortController().signal });
    await session.prefill();
    await collect(session.decode(peer('d', D)));
    expect(D.calls.map((c) => c.method)).toEqual(['generate']);
  });
});

describe('p2p-nccl (vLLM)', () => {
  it('names both engines in one request id, prefills a max_tokens 1 copy, and will not move the decode elsewhere', async () => {
    const P = stubBackend('vllm-http');
    const D = stubBackend('vllm-http');
    const session = protocols.get('p2p-nccl', 'vllm-http').open({
      call: call(),
      prefill: peer('p', P, { ncclAddress: '10.0.0.1:21001' }),
      decode: peer('d', D, { ncclAddress: '10.0.0.2:21001' }),
      signal: new AbortController().signal,
    });
    expect(await session.prefill()).toMatchObject({
      firstTokenId: 7,
      decodeRepeatsFirstToken: true,
      decodeRetryable: false,
    });
    const id = `___prefill_addr_10.0.0.1:21001___decode_addr_10.0.0.2:21001_${'ab'.repeat(16)}`;
    expect(P.calls[0]!.call).toMatchObject({ requestId: id, sampling: { maxTokens: 1, minTokens: 1 } });
    expect(await collect(session.decode(peer('d', D)))).toEqual([7, 8, 9]);
    expect(D.calls[0]!.call).toMatchObject({ requestId: id, sampling: { maxTokens: 3, minTokens: 2 } });
    expect(() => session.decode(peer('other', D))).toThrow(/names decode worker d/);
  });

  it('refuses a worker without its zmq address', () => {
    expect(() =>
      protocols.get('p2p-nccl', 'vllm-http').open({
        call: call(),
        prefill: peer('p', stubBackend('vllm-http')),
        decode: peer('d', stubBackend('vllm-http')),
        signal: new AbortController().signal,
      }),
    ).toThrow(/kv_transfer.nccl_address/);
  });
});

describe('sglang', () => {
  it('starts the decode before the prefill finishes, both with the same bootstrap host, port and room', async () => {
    const P = stubBackend('vllm-http', { generateDelayMs: 30 });
    const D = stubBackend('vllm-http');
    const session = protocols.get('sglang', 'vllm-http').open({
      call: call(),
      prefill: peer('p', P, { bootstrapPort: 8998 }),
      decode: peer('d', D),
      signal: new AbortController().signal,
    });
    expect(await session.prefill()).toMatchObject({
      firstTokenId: null,
      decodeRepeatsFirstToken: false,
      decodeRetryable: false,
    });
    expect(D.calls[0]!.startedAt).toBeLessThan(P.calls[0]!.startedAt);
    const bootstrap = {
      bootstrap_host: '10.0.0.9',
      bootstrap_port: 8998,
      bootstrap_room: Number(BigInt('0xabababababababab') & BigInt(Number.MAX_SAFE_INTEGER)),
    };
    expect(P.calls[0]!.call).toMatchObject({ extraBody: bootstrap });
    expect(D.calls[0]!.call).toMatchObject({ extraBody: bootstrap });
    expect(await collect(session.decode(peer('d', D)))).toEqual([7, 8, 9]);
  });

  it('drops the decode when the prefill fails, and aborts the prefill when the decode fails first', async () => {
    const failingP = stubBackend('vllm-http', { failGenerate: new TandemError('upstream_error', 'prefill broke') });
    const waitingD = stubBackend('vllm-http', { generateDelayMs: 50 });
    const first = protocols.get('sglang', 'vllm-http').open({
      call: call(),
      prefill: peer('p', failingP),
      decode: peer('d', waitingD),
      signal: new AbortController().signal,
    });
    await expect(first.prefill()).rejects.toThrow(/prefill broke/);
    expect(waitingD.calls[0]!.aborted).toBe(true);

    const slowP = stubBackend('vllm-http', { generateDelayMs: 50 });
    const failingD = stubBackend('vllm-http', { failGenerate: new TandemError('upstream_error', 'decode broke') });
    const second = protocols.get('sglang', 'vllm-http').open({
      call: call(),
      prefill: peer('p', slowP),
      decode: peer('d', failingD),
      signal: new AbortController().signal,
    });
    await expect(second.prefill()).rejects.toThrow(/decode broke/);
    expect(slowP.calls[0]!.aborted).toBe(true);
  });
});

describe('startEagerly', () => {
  it('starts a lazy generator at once and yields everything it produces, in order', async () => {
    let started = false;
    async function* lazy() {
      started = true;
      yield 1;
      yield 2;
    }
    const eager = startEagerly(lazy());
    expect(started).toBe(true);
    await eager.started;
    const out: number[] = [];
    for await (const value of eager.stream) out.push(value);
    expect(out).toEqual([1, 2]);
  });
});
