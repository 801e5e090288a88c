import type { Config } from '../../common/config/index.ts';
import { workerSection } from '../../common/config/sections/worker.ts';
import { TandemError } from '../../common/errors.ts';
import {
  DEFAULT_ROOFLINE,
  engineProfile,
  kvBlockBytes,
  kvCapacityBlocks,
  linkProfile,
  modelSpecialTokens,
  type EngineProfile,
  type LinkProfile,
  type ModelSpecialTokens,
  type RooflineParams,
} from '../../common/profiles/index.ts';

/**
 * How to build a simulated engine. Every field is optional; defaults are the `worker` config
 * section's (common/config/sections/worker.ts), so a config file and a test that passes nothing
 * get the same engine.
 */
export interface SimEngineOptions {
  /** GPU, model and link profile names (common/profiles). */
  readonly gpu?: string;
  readonly model?: string;
  readonly tp?: number;
  readonly blockSize?: number;
  /** KV blocks; default from the profile (kvCapacityBlocks). */
  readonly numBlocks?: number | undefined;
  readonly maxNumBatchedTokens?: number;
  readonly maxNumSeqs?: number;
  /** Default: the model profile's context length. */
  readonly maxModelLen?: number | undefined;
  readonly enablePrefixCaching?: boolean;
  /** PYTHONHASHSEED string of the block-hash chain. */
  readonly hashSeed?: string;
  /** How long a prefill-only request's blocks are held, clock ms. */
  readonly kvHoldTimeoutMs?: number;
  readonly kvLink?: string;
  /** Modelled durations run this many times faster on the clock. */
  readonly timeScale?: number;
  readonly eosProbability?: number;
  /** Default `sim-<gpu>-<model>-<seed>`; a worker process should pass one unique per incarnation. */
  readonly engineId?: string;
  readonly seed?: number;
  readonly dataParallelRank?: number;
  /** Overrides of the roofline's efficiencies and overheads. */
  readonly roofline?: Partial<RooflineParams>;
}

/** SimEngineOptions checked and fully defaulted, with the profiles looked up. */
export interface ResolvedEngineOptions {
  readonly gpu: string;
  readonly model: string;
  readonly profile: EngineProfile;
  readonly roofline: RooflineParams;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly blockBytes: number;
  /** Token ids a request may carry are [0, vocabSize): the model profile's vocabulary. */
  readonly vocabSize: number;
  readonly maxNumBatchedTokens: number;
  readonly maxNumSeqs: number;
  readonly maxModelLen: number;
  readonly enablePrefixCaching: boolean;
  readonly hashSeed: string;
  readonly kvHoldTimeoutMs: number;
  readonly kvLink: LinkProfile;
  readonly timeScale: number;
  readonly eosProbability: number;
  readonly specialTokens: ModelSpecialTokens;
  readonly engineId: string;
  readonly seed: number;
  readonly dataParallelRank: number;
}

const DEFAULTS = workerSection.parse({});

/** Checks and defaults engine options; throws TandemError(invalid_request) naming the bad field. */
export function resolveEngineOptions(options: SimEngineOptions = {}): ResolvedEngineOptions {
  const gpu = options.gpu ?? DEFAULTS.gpu;
  const model = options.model ?? DEFAULTS.model;
  const profile = engineProfile(gpu, model, options.tp ?? DEFAULTS.tp);
  const roofline = { ...DEFAULT_ROOFLINE, ...options.roofline };
  const blockSize = positiveInt('blockSize', options.blockSize ?? DEFAULTS.block_size);
  const numBlocks = positiveInt(
    'numBlocks',
    options.numBlocks ?? kvCapacityBlocks(profile, blockSize, roofline),
    `(${profile.model.name} does not fit ${profile.gpu.name} x${profile.tp}: no memory left for KV)`,
  );
  const timeScale = options.timeScale ?? DEFAULTS.time_scale;
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw invalid('timeScale', `must be a positive number, got ${timeScale}`);
  const eosProbability = options.eosProbability ?? DEFAULTS.eos_probability;
  if (!(eosProbability >= 0 && eosProbability <= 1))
    throw invalid('eosProbability', `must be in [0, 1], got ${eosProbability}`);
  const seed = options.seed ?? DEFAULTS.seed;
  return {
    gpu: profile.gpu.name,
    model: profile.model.name,
    profile,
    roofline,
    blockSize,
    numBlocks,
    blockBytes: kvBlockBytes(profile.model, blockSize),
    vocabSize: profile.model.vocabSize,
    maxNumBatchedTokens: positiveInt(
      'maxNumBatchedTokens',
      options.maxNumBatchedTokens ?? DEFAULTS.max_num_batched_tokens,
    ),
    maxNumSeqs: positiveInt('maxNumSeqs', options.maxNumSeqs ?? DEFAULTS.max_num_seqs),
    maxModelLen: positiveInt('maxModelLen', options.maxModelLen ?? profile.model.maxModelLen),
    enablePrefixCaching: options.enablePrefixCaching ?? DEFAULTS.enable_prefix_caching,
    hashSeed: options.hashSeed ?? DEFAULTS.hash_seed,
    kvHoldTimeoutMs: positiveNumber('kvHoldTimeoutMs', options.kvHoldTimeoutMs ?? DEFAULTS.kv_hold_timeout_s * 1000),
    kvLink: linkProfile(options.kvLink ?? DEFAULTS.kv_link),
    timeScale,
    eosProbability,
    specialTokens: modelSpecialTokens(profile.model.name),
    engineId: options.engineId ?? `sim-${profile.gpu.name}-${profile.model.name}-${seed}`,
    seed,
    dataParallelRank: options.dataParallelRank ?? DEFAULTS.dp_rank,
  };
}

/** The engine options a `worker` config section asks for. */
export function engineOptionsFromConfig(worker: Config['worker']): SimEngineOptions {
  return {
    gpu: worker.gpu,
    model: worker.model,
    tp: worker.tp,
    blockSize: worker.block_size,
    numBlocks: worker.num_gpu_blocks,
    maxNumBatchedTokens: worker.max_num_batched_tokens,
    maxNumSeqs: worker.max_num_seqs,
    maxModelLen: worker.max_model_len,
    enablePrefixCaching: worker.enable_prefix_caching,
    hashSeed: worker.hash_seed,
    kvHoldTimeoutMs: worker.kv_hold_timeout_s * 1000,
    kvLink: worker.kv_link,
    timeScale: worker.time_scale,
    eosProbability: worker.eos_probability,
    seed: worker.seed,
    dataParallelRank: worker.dp_rank,
  };
}

function invalid(field: string, message: string): TandemError {
  return new TandemError('invalid_request', `engine option ${field} ${message}`, { param: field });
}

function positiveInt(field: string, value: number, hint = ''): number {
  if (!Number.isInteger(value) || value < 1)
    throw invalid(field, `must be a positive integer, got ${value}${hint ? ` ${hint}` : ''}`);
  return value;
}

function positiveNumber(field: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw invalid(field, `must be a positive number, got ${value}`);
  return value;
}
