import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import { createEngineCore, type EngineCore } from './engine-core.ts';
import type { Engine, EngineInfo } from './engine-api.ts';
import { createEngineDriver } from './engine-driver.ts';
import { resolveEngineOptions, type SimEngineOptions } from './options.ts';

/**
 * The simulated engine: the core with the simulated parts (sim-parts.ts: roofline step times,
 * seeded tokens, link-model pulls) driven by a Clock (engine-driver.ts). Works the same on the
 * real clock (a worker process; `timeScale` speeds it up) and on a virtual clock (tests, the
 * cluster simulator).
 */
export interface SimEngine extends Engine {
  /** The pure core, for tests and in-process inspection; do not drive it directly. */
  readonly core: EngineCore;
  /** Clock ms spent in forward passes since start: busy time for load-balance figures. */
  busyMs(): number;
}

export interface SimEngineDeps {
  readonly clock: Clock;
  readonly logger?: Logger;
}

export function createSimEngine(options: SimEngineOptions, deps: SimEngineDeps): SimEngine {
  const core = createEngineCore(resolveEngineOptions(options));
  const resolved = core.options;
  const info: EngineInfo = {
    engineId: resolved.engineId,
    kind: 'sim',
    gpu: resolved.gpu,
    model: resolved.model,
    servedModelName: resolved.profile.model.hfId,
    tpSize: resolved.profile.tp,
    blockSize: resolved.blockSize,
    totalBlocks: resolved.numBlocks,
    maxModelLen: resolved.maxModelLen,
    maxNumSeqs: resolved.maxNumSeqs,
    maxNumBatchedTokens: resolved.maxNumBatchedTokens,
    vocabSize: resolved.profile.model.vocabSize,
    prefixCaching: resolved.enablePrefixCaching,
    blockBytes: resolved.blockBytes,
    dataParallelRank: resolved.dataParallelRank,
    startedAtMs: deps.clock.now(),
  };
  return createEngineDriver(core, info, deps);
}
