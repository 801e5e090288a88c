import {
  createBackend,
  type BackendSpec,
  type BackendUsage,
  type DecodeCall,
  type GenerateCall,
  type KvHandoffTicket,
  type BackendPrefillResult,
  type BackendChunk,
  type WorkerBackend,
} from '../../orchestrator/backends/index.ts';

/**
 * A test seam around the orchestrator's real worker backends (`OrchestratorDeps.createBackend`):
 * records every generate / prefill / decode / release call with the token ids that crossed it,
 * and lets a test inject failures or tamper with a handoff at a precise point (before a call,
 * after a prefill returned) without touching the workers.
 */
export interface TapRecord {
  readonly kind: 'generate' | 'prefill' | 'decode' | 'release';
  /** The worker's config name. */
  readonly worker: string;
  readonly requestId: string;
  readonly promptTokens: number;
  /** Tokens the call yielded (prefill: its first token). */
  readonly tokens: number[];
  handoff?: KvHandoffTicket | null;
  firstTokenId?: number | undefined;
  usage?: BackendUsage;
  finishReason?: string;
  error?: string;
  extraBody?: Readonly<Record<string, unknown>> | undefined;
}

export interface TapHooks {
  /** Before the named call reaches the worker; throw to fail it there. */
  before?: (kind: TapRecord['kind'], worker: string, call: GenerateCall) => void | Promise<void>;
  /** After a prefill answered: return a (possibly altered) result, or throw to fail it. */
  afterPrefill?: (worker: string, result: BackendPrefillResult) => BackendPrefillResult | Promise<BackendPrefillResult>;
}

export interface BackendTap {
  readonly records: TapRecord[];
  hooks: TapHooks;
  readonly createBackend: (kind: string, spec: BackendSpec) => WorkerBackend;
  /** Records of one request id, in call order. */
  of(requestId: string): TapRecord[];
}

export function createBackendTap(): BackendTap {
  const records: TapRecord[] = [];
  const tap: BackendTap = {
    records,
    hooks: {},
    of: (requestId) => records.filter((r) => r.requestId === requestId),
    createBackend(kind, spec) {
      const inner = createBackend(kind, spec);
      const worker = spec.name;
      const record = (kind: TapRecord['kind'], call: GenerateCall): TapRecord => {
        const r: TapRecord = {
          kind,
          worker,
          requestId: call.requestId,
          promptTokens: call.tokenIds.length,
          tokens: [],
          extraBody: call.extraBody,
        };
        records.push(r);
        return r;
      };
      async function* relay(
        r: TapRecord,
        source: () => AsyncIterable<BackendChunk>,
        call: GenerateCall,
      ): AsyncGenerator<BackendChunk> {
        try {
          await tap.hooks.before?.(r.kind, worker, call);
          for await (const chunk of source()) {
            r.tokens.push(...chunk.tokenIds, ...outputTokenIds(chunk));
            if (chunk.usage) r.usage = chunk.usage;
            if (chunk.finishReason) r.finishReason = chunk.finishReason;
            yield chunk;
          }
        } catch (error) {
          r.error = (error as Error).message;
          throw error;
        }
      }
      return {
        ...inner,
        kind: inner.kind,
        address: inner.address,
        generate(call, signal) {
          const r = record('generate', call);
          return relay(r, () => inner.generate(call, signal), call);
        },
        async prefill(call, signal) {
          const r = record('prefill', call);
          try {
            await tap.hooks.before?.('prefill', worker, call);
            let result = await inner.prefill(call, signal);
            if (tap.hooks.afterPrefill) result = await tap.hooks.afterPrefill(worker, result);
            if (result.firstTokenId !== null) r.tokens.push(result.firstTokenId);
            r.handoff = result.handoff;
            r.usage = result.usage;
            if (result.finishReason !== null) r.finishReason = result.finishReason;
            return result;
          } catch (error) {
            r.error = (error as Error).message;
            throw error;
          }
        },
        decode(call: DecodeCall, signal) {
          const r = record('decode', call);
          r.handoff = call.handoff;
          r.firstTokenId = call.firstTokenId;
          return relay(r, () => inner.decode(call, signal), call);
        },
        async release(ticket, signal) {
          records.push({
            kind: 'release',
            worker,
            requestId: ticket.kind === 'tandem' ? ticket.remoteRequestId : '',
            promptTokens: 0,
            tokens: [],
            handoff: ticket,
          });
          return inner.release(ticket, signal);
        },
        status: (signal) => inner.status(signal),
        close: () => inner.close(),
      };
    },
  };
  return tap;
}

/** The `token_ids` a pass-through chunk's output carries (engines that send them; none otherwise). */
function outputTokenIds(chunk: BackendChunk): number[] {
  const ids: number[] = [];
  for (const data of chunk.output?.data ?? []) {
    const json = JSON.parse(data) as { choices?: { token_ids?: unknown }[] };
    for (const choice of json.choices ?? [])
      if (Array.isArray(choice.token_ids)) ids.push(...(choice.token_ids as number[]));
  }
  return ids;
}
