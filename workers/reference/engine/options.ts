import { randomUUID } from 'node:crypto';
import type { Config } from '../../../common/config/index.ts';
import { referenceSection, workerSection } from '../../../common/config/sections/worker.ts';
import { TandemError } from '../../../common/errors.ts';
import { resolveEngineOptions, type ResolvedEngineOptions, type SimEngineOptions } from '../../engine/index.ts';
import { createKvBlockLayout } from '../kv/layout.ts';
import { modelConfigFromSection } from '../model-config-from-section.ts';
import { resolveModelConfig, type ReferenceModelConfig } from '../model/config.ts';

/**
 * How to build a reference engine. Every field is optional; the defaults are the `worker` and
 * `worker.reference` config sections' (common/config/sections/worker.ts), so a config file and
 * a test that passes nothing get the same engine. The core's options it takes as the simulated
 * engine does are SimEngineOptions' (documented there); the rest are its own or default differently.
 */
export interface ReferenceEngineOptions
  extends Pick<
    SimEngineOptions,
    'blockSize' | 'maxNumSeqs' | 'enablePrefixCaching' | 'hashSeed' | 'kvHoldTimeoutMs' | 'dataParallelRank'
  > {
  /** The model's shape and seed; every worker of a deployment must use the same. */
  readonly model?: Partial<ReferenceModelConfig>;
  /**
   * What `info` reports: GPU and model profile names (common/profiles) and the served model
   * name. The reference model reads the ids of that model's tokenizer (Qwen3 by default), so it
   * stands in for it; the engine kind, "reference", tells them apart.
   */
  readonly reportAs?: { readonly gpu?: string; readonly model?: string; readonly servedModelName?: string };
  /** KV blocks in the pool; default 4096 (worker.reference.num_blocks). */
  readonly numBlocks?: number;
  /** Tokens one (synchronous) forward pass computes at most; default 256. */
  readonly maxNumBatchedTokens?: number;
  /** Default, and upper bound: the model's maxModelLen. */
  readonly maxModelLen?: number | undefined;
  /** Default `reference-<random uuid>`: unique per incarnation, as handoffs and status need. */
  readonly engineId?: string;
  readonly kvTransfer?: {
    /** Interface the block server binds; default 127.0.0.1. */
    readonly host?: string;
    /** 0 (the default) picks a free port; read it back from `engine.kvTransfer.port`. */
    readonly port?: number;
    /** Host put in handoffs for decode engines to dial; default the bound host. Set it when binding 0.0.0.0. */
    readonly advertiseHost?: string | undefined;
    /** Bound on one whole pull or release notification, ms; default 10,000. */
    readonly timeoutMs?: number;
  };
}

/** Fully defaulted: the core's options plus what the reference parts need. */
export interface ResolvedReferenceOptions {
  readonly core: ResolvedEngineOptions;
  readonly model: ReferenceModelConfig;
  readonly servedModelName: string;
  readonly kvTransfer: {
    readonly host: string;
    readonly port: number;
    readonly advertiseHost: string | undefined;
    readonly timeoutMs: number;
  };
}

const WORKER = workerSection.parse({});
const REFERENCE = referenceSection.parse({});

/** Checks and defaults; throws TandemError(invalid_request) naming the bad field. */
export function resolveReferenceOptions(options: ReferenceEngineOptions = {}): ResolvedReferenceOptions {
  const model = resolveModelConfig(options.model ?? modelConfigFromSection(REFERENCE));
  const maxModelLen = options.maxModelLen ?? model.maxModelLen;
  if (maxModelLen > model.maxModelLen)
    throw invalid('maxModelLen', `${maxModelLen} exceeds the reference model's ${model.maxModelLen}`);
  const engineId = options.engineId ?? `reference-${randomUUID()}`;
  // The shared core's options. Roofline, time scale, KV link and EOS probability are the
  // simulated parts' and unused here.
  const base = resolveEngineOptions({
    gpu: options.reportAs?.gpu ?? WORKER.gpu,
    model: options.reportAs?.model ?? WORKER.model,
    tp: 1,
    blockSize: options.blockSize ?? WORKER.block_size,
    numBlocks: options.numBlocks ?? REFERENCE.num_blocks,
    maxNumBatchedTokens: options.maxNumBatchedTokens ?? REFERENCE.max_num_batched_tokens,
    maxNumSeqs: options.maxNumSeqs ?? WORKER.max_num_seqs,
    maxModelLen,
    enablePrefixCaching: options.enablePrefixCaching ?? WORKER.enable_prefix_caching,
    hashSeed: options.hashSeed ?? WORKER.hash_seed,
    kvHoldTimeoutMs: options.kvHoldTimeoutMs ?? WORKER.kv_hold_timeout_s * 1000,
    engineId,
    dataParallelRank: options.dataParallelRank ?? WORKER.dp_rank,
    eosProbability: 0,
  });
  const layout = createKvBlockLayout({
    numLayers: model.numLayers,
    numKvHeads: model.numKvHeads,
    headDim: model.headDim,
    blockSize: base.blockSize,
  });
  const core: ResolvedEngineOptions = {
    ...base,
    blockBytes: layout.blockBytes,
    vocabSize: model.inputVocabSize,
    // The model emits one end-of-sequence id (its output vocabulary's only special token).
    specialTokens: { eosTokenIds: [model.eosId], firstSpecialTokenId: base.specialTokens.firstSpecialTokenId },
  };
  const transfer = options.kvTransfer ?? {};
  const port = transfer.port ?? REFERENCE.kv_transfer.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalid('kvTransfer.port', `must be an integer in [0, 65535], got ${port}`);
  const timeoutMs = transfer.timeoutMs ?? REFERENCE.kv_transfer.timeout_ms;
  if (!(timeoutMs > 0)) throw invalid('kvTransfer.timeoutMs', `must be positive, got ${timeoutMs}`);
  return {
    core,
    model,
    servedModelName: options.reportAs?.servedModelName ?? base.profile.model.hfId,
    kvTransfer: {
      host: transfer.host ?? REFERENCE.kv_transfer.host ?? '127.0.0.1',
      port,
      advertiseHost: transfer.advertiseHost,
      timeoutMs,
    },
  };
}

/**
 * The options a `worker` config section asks for (`--engine reference`). `advertiseHost` is the
 * worker's address as other workers reach it (the worker process resolves it), `engineId` its
 * incarnation's id.
 */
export function referenceEngineOptionsFromConfig(
  worker: Config['worker'],
  extra: { readonly advertiseHost?: string; readonly engineId?: string; readonly servedModelName?: string } = {},
): ReferenceEngineOptions {
  const r = worker.reference;
  return {
    model: modelConfigFromSection(r),
    reportAs: {
      gpu: worker.gpu,
      model: worker.model,
      ...(extra.servedModelName === undefined ? {} : { servedModelName: extra.servedModelName }),
    },
    blockSize: worker.block_size,
    numBlocks: worker.num_gpu_blocks ?? r.num_blocks,
    maxNumBatchedTokens: r.max_num_batched_tokens,
    maxNumSeqs: worker.max_num_seqs,
    maxModelLen: worker.max_model_len === undefined ? undefined : Math.min(worker.max_model_len, r.model.max_model_len),
    enablePrefixCaching: worker.enable_prefix_caching,
    hashSeed: worker.hash_seed,
    kvHoldTimeoutMs: worker.kv_hold_timeout_s * 1000,
    ...(extra.engineId === undefined ? {} : { engineId: extra.engineId }),
    dataParallelRank: worker.dp_rank,
    kvTransfer: {
      host: r.kv_transfer.host ?? worker.host,
      port: r.kv_transfer.port,
      advertiseHost: extra.advertiseHost,
      timeoutMs: r.kv_transfer.timeout_ms,
    },
  };
}

function invalid(field: string, message: string): TandemError {
  return new TandemError('invalid_request', `reference engine option ${field} ${message}`, { param: field });
}
