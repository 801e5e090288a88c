import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import type { TokenUsage } from '../../common/openai/index.ts';
import type { Logger } from '../../common/log.ts';
import type { Tokenizer } from '../../common/tokenizer/index.ts';
import type { Engine, FinishReason, RequestUsage, TokenChunk, TokenStream } from '../engine/engine-api.ts';
import type { LatencyObserver } from '../metrics/index.ts';
import type { KvPeers } from '../server/kv-peers.ts';
import { startRemoteDecode } from '../server/remote-decode.ts';
import type { WorkerAddress } from '../server/wire.ts';
import { handoffFromRemote, kvTransferParamsFor, readKvTransferParams } from './kv-transfer-params.ts';
import type { EngineRequest } from './prepare-request.ts';
import { createStopMatcher } from '../../common/stop-strings.ts';

/**
 * Runs one prepared request on the engine, HTTP-free, in the way its kv_transfer_params ask:
 * aggregated (none, or invalid do_remote_prefill params, which vLLM recomputes), prefill only
 * (do_remote_decode: max_tokens 1, blocks held, params answered), or decode after a remote
 * prefill (do_remote_prefill: pull, then decode). Turns tokens into text (incremental
 * detokenizing, stop strings) and records the request's metrics. Engine refusals (bad input,
 * kv_transfer_failed) are thrown TandemErrors.
 */
export type RunEvent =
  | {
      readonly kind: 'delta';
      readonly text: string;
      readonly tokenIds: readonly number[];
      readonly completionTokens: number;
    }
  | {
      readonly kind: 'finish';
      readonly text: string;
      /** Tokens of this last piece (they are not in any delta). */
      readonly tokenIds: readonly number[];
      readonly finishReason: FinishReason;
      /** vLLM's stop_reason: the stop string or stop token id that ended the request, else null. */
      readonly stopReason: string | number | null;
      readonly usage: ResponseUsage;
      /** A prefill's handoff for the decode side (vLLM's response kv_transfer_params). */
      readonly kvTransferParams?: Record<string, unknown>;
      /** The hold those params name: release it if the response cannot be delivered. */
      readonly heldHandoffId?: string;
    };

/**
 * The usage a response reports; `cachedPromptTokens` is every prompt token not computed here:
 * this engine's prefix-cache hits plus KV pulled from a prefill worker (vLLM's num_cached_tokens).
 */
export type ResponseUsage = TokenUsage;

export interface RunContext {
  readonly engine: Engine;
  readonly peers: KvPeers;
  readonly tokenizer: Tokenizer;
  /** This worker's advertised gRPC address (the remote_host/remote_port of its handoffs). */
  readonly self: () => WorkerAddress;
  readonly loadFailurePolicy: 'recompute' | 'fail';
  /** The engine pulls TCP handoffs itself (the reference engine). */
  readonly pullsTcp?: boolean;
  /** Assumed hold lifetime when params carry no remote_blocks_expiry_time, ms. */
  readonly holdTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export async function* runRequest(
  prepared: EngineRequest,
  requestId: string,
  context: RunContext,
  observer: LatencyObserver,
  signal: AbortSignal,
): AsyncGenerator<RunEvent> {
  const { engine, logger } = context;
  const { parsed, promptTokenIds } = prepared;
  const request = { requestId, promptTokenIds, sampling: prepared.sampling };
  const detokenizer = context.tokenizer.createDetokenizer({
    skipSpecialTokens: parsed.skipSpecialTokens,
    promptTail: promptTokenIds.slice(-6),
  });
  const stops = createStopMatcher(parsed.stop, parsed.includeStopStrInOutput);
  const stopTokenIds = new Set(parsed.stopTokenIds);
  const transfer = readKvTransferParams(parsed.kvTransferParams);

  if (transfer.mode === 'prefill') {
    // vLLM's proxies already send max_tokens 1 (and no min_tokens); enforce it.
    const sampling = { ...prepared.sampling, maxTokens: 1, minTokens: Math.min(prepared.sampling.minTokens ?? 0, 1) };
    let result;
    try {
      result = await engine.prefill({ ...request, sampling }, { signal });
    } catch (error) {
      observer.finish('abort');
      throw error;
    }
    const finishReason = result.finishReason ?? 'length';
    observer.tokens(1);
    observer.finish(finishReason);
    const { text } = stops.push(detokenizer.push(result.firstTokenId) + detokenizer.flush());
    yield {
      kind: 'finish',
      text: text + stops.flush(),
      tokenIds: [result.firstTokenId],
      finishReason,
      stopReason: finishReason === 'stop' && stopTokenIds.has(result.firstTokenId) ? result.firstTokenId : null,
      usage: usageOf(result.usage, 1),
      ...(result.handoff
        ? {
            kvTransferParams: kvTransferParamsFor(result.handoff, context.self()),
            heldHandoffId: result.handoff.handoffId,
          }
        : {}),
    };
    return;
  }

  let chunks: AsyncIterable<TokenChunk>;
  let settled: TokenStream['result'];
  if (transfer.mode === 'decode') {
    const { remote } = transfer;
    const handoff = handoffFromRemote(
      remote,
      engine.info,
      promptTokenIds.length,
      context.clock.now(),
      context.holdTimeoutMs,
    );
    const decode = await startRemoteDecode({
      engine,
      peers: context.peers,
      request,
      handoff,
      peer: { host: remote.host, port: remote.port, engineId: remote.engineId, handoffId: remote.requestId },
      unusable:
        handoff.blockSize === engine.info.blockSize
          ? undefined
          : `remote block size ${handoff.blockSize} differs from this engine's ${engine.info.blockSize}`,
      pullsTcp: context.pullsTcp === true,
      loadFailurePolicy: context.loadFailurePolicy,
      signal,
      logger,
    });
    chunks = decode.chunks;
    settled = decode.result;
  } else {
    if (transfer.mode === 'recompute')
      logger.warn({ requestId, reason: transfer.reason }, 'Got invalid KVTransferParams; recomputing the prompt');
    const stream = engine.generate(request, { signal });
    chunks = stream;
    settled = stream.result;
  }

  let completionTokens = 0;
  let lastTokenId: number | undefined;
  let stopped: { readonly text: string; readonly tokenIds: readonly number[]; readonly stop: string } | undefined;
  for await (const chunk of chunks) {
    observer.tokens(chunk.tokenIds.length);
    let text = '';
    const tokenIds: number[] = [];
    for (const id of chunk.tokenIds) {
      completionTokens++;
      lastTokenId = id;
      tokenIds.push(id);
      const match = stops.push(detokenizer.push(id));
      text += match.text;
      if (match.stop !== undefined) {
        stopped = { text, tokenIds, stop: match.stop };
        break;
      }
    }
    // Leaving the loop cancels the engine request; its result then settles at once.
    if (stopped) break;
    if (chunk.finishReason === null) {
      if (tokenIds.length > 0) yield { kind: 'delta', text, tokenIds, completionTokens };
      continue;
    }
    observer.finish(chunk.finishReason);
    const tail = stops.push(detokenizer.flush());
    const byStopToken = chunk.finishReason === 'stop' && lastTokenId !== undefined && stopTokenIds.has(lastTokenId);
    yield {
      kind: 'finish',
      text: text + tail.text + (tail.stop === undefined ? stops.flush() : ''),
      tokenIds,
      finishReason: tail.stop === undefined ? chunk.finishReason : 'stop',
      stopReason: tail.stop ?? (byStopToken ? lastTokenId! : null),
      usage: usageOf(chunk.usage!, completionTokens),
    };
    return;
  }
  if (!stopped) throw new TandemError('internal', `the engine ended request ${requestId} without a final chunk`);
  const { usage } = await settled;
  observer.finish('stop');
  yield {
    kind: 'finish',
    text: stopped.text,
    tokenIds: stopped.tokenIds,
    finishReason: 'stop',
    stopReason: stopped.stop,
    usage: usageOf(usage, completionTokens),
  };
}

function usageOf(usage: RequestUsage, completionTokens: number): ResponseUsage {
  return {
    promptTokens: usage.promptTokens,
    completionTokens,
    cachedPromptTokens: usage.cachedPromptTokens + usage.transferredPromptTokens,
  };
}
