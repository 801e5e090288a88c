import type { Clock } from '../../../common/clock.ts';
import { silentLogger, type Logger } from '../../../common/log.ts';
import {
  createEngineCore,
  createEngineDriver,
  type Engine,
  type EngineCore,
  type EngineDriver,
  type EngineInfo,
} from '../../engine/index.ts';
import { createKvBlockPool, type KvBlockPool } from '../kv/block-pool.ts';
import { createReferenceModel, type ReferenceModel } from '../model/model.ts';
import { createKvBlockClient } from '../transfer/client.ts';
import { createKvBlockServer, type KvBlockServer } from '../transfer/server.ts';
import { createModelExecutor } from './model-executor.ts';
import { resolveReferenceOptions, type ReferenceEngineOptions } from './options.ts';
import { createTcpKvTransfer } from './tcp-transfer.ts';

/**
 * The reference engine: the simulated engine's block manager, scheduler, handoff holds and
 * driver (workers/engine) with real parts plugged in: each forward pass runs the tiny seeded
 * transformer over a paged float32 KV pool whose block ids are the block manager's, and KV moves
 * between engines over TCP by block id (this engine's block server serves its held blocks;
 * decodes pull from the peer's). So the prefix cache, block hashes, KV events, holds and usage
 * are exactly the simulated engine's, and disaggregated output equals aggregated output token
 * for token (test/reference-exactness.test.ts).
 *
 * Passes run synchronously on the event loop (at most `maxNumBatchedTokens` tokens each) and
 * the driver yields to it between every two passes, so sockets and timers keep being served.
 * Sampling (greedy, or from the real logits): see model-executor.ts.
 */
export interface ReferenceEngine extends Engine {
  /** The shared core, for tests and in-process inspection; do not drive it directly. */
  readonly core: EngineCore;
  readonly model: ReferenceModel;
  /** The KV bytes: block id b of the core's block pool is block b here. */
  readonly pool: KvBlockPool;
  /** The block server: bound address, and the host handoffs carry (GetStatus kv_transfer_port is `port`). */
  readonly kvTransfer: { readonly host: string; readonly port: number; readonly advertiseHost: string };
}

export interface ReferenceEngineDeps {
  readonly clock: Clock;
  readonly logger?: Logger;
}

/**
 * Builds the model (weights from the seed), the pool, and starts the block server (on the
 * configured host and port; port 0 picks one). Throws TandemError invalid_request on bad
 * options; rejects if the block server cannot listen.
 */
export async function createReferenceEngine(
  options: ReferenceEngineOptions,
  deps: ReferenceEngineDeps,
): Promise<ReferenceEngine> {
  const { clock } = deps;
  const logger = deps.logger ?? silentLogger;
  const resolved = resolveReferenceOptions(options);
  const o = resolved.core;
  const model = createReferenceModel(resolved.model);
  const pool = createKvBlockPool({ layout: model.kvLayout(o.blockSize), numBlocks: o.numBlocks });

  // The block server and the pull callbacks reach the engine built below.
  let driver: EngineDriver | undefined;
  const heldSets = new WeakMap<readonly number[], Set<number>>();
  const server: KvBlockServer = await createKvBlockServer({
    pool,
    host: resolved.kvTransfer.host,
    port: resolved.kvTransfer.port,
    logger,
    isHeld(handoffId, blockId) {
      const ids = driver?.core.heldBlockIds(handoffId, clock.now());
      if (!ids) return false;
      let set = heldSets.get(ids);
      if (!set) heldSets.set(ids, (set = new Set(ids)));
      return set.has(blockId);
    },
    release: (handoffId) => driver?.release(handoffId).found ?? false,
  });
  const advertiseHost = resolved.kvTransfer.advertiseHost ?? server.host;

  const transfer = createTcpKvTransfer({
    layout: pool.layout,
    advertiseHost,
    port: server.port,
    client: createKvBlockClient({ pool, timeoutMs: resolved.kvTransfer.timeoutMs, clock }),
    logger,
    onPulled(requestId, pull) {
      if (driver?.core.completePull(requestId, pull, clock.now())) driver.wake();
    },
    onPullFailed(requestId, pull, policy, error) {
      if (!driver) return;
      logger.warn(
        { err: error, requestId, policy },
        policy === 'recompute' ? 'KV pull failed; recomputing the prompt' : 'KV pull failed; failing the request',
      );
      const ended = driver.core.failPull(requestId, pull, policy);
      if (ended) driver.emit(ended);
      else driver.wake();
    },
  });
  const core = createEngineCore(o, { executor: createModelExecutor(model, pool, clock), transfer });
  const info: EngineInfo = {
    engineId: o.engineId,
    kind: 'reference',
    gpu: o.gpu,
    model: o.model,
    servedModelName: resolved.servedModelName,
    tpSize: 1,
    blockSize: o.blockSize,
    totalBlocks: o.numBlocks,
    maxModelLen: o.maxModelLen,
    maxNumSeqs: o.maxNumSeqs,
    maxNumBatchedTokens: o.maxNumBatchedTokens,
    vocabSize: o.vocabSize,
    prefixCaching: o.enablePrefixCaching,
    blockBytes: o.blockBytes,
    dataParallelRank: o.dataParallelRank,
    startedAtMs: clock.now(),
  };
  // maxBurstSteps 0: every pass is followed by a turn of the event loop.
  const engine = createEngineDriver(core, info, { clock, logger }, { maxBurstSteps: 0 });
  driver = engine;
  logger.info(
    {
      engineId: o.engineId,
      kvTransfer: `${server.host}:${server.port}`,
      advertiseHost,
      blocks: o.numBlocks,
      blockBytes: o.blockBytes,
    },
    'reference engine ready',
  );

  return {
    // Every Engine method is the shared driver's (its methods are closures, safe to copy).
    ...engine,
    model,
    pool,
    kvTransfer: { host: server.host, port: server.port, advertiseHost },
    async close() {
      // Aborts requests (their pulls too, releasing the peers' blocks) and drops holds first.
      await engine.close();
      await server.close();
    },
  };
}
