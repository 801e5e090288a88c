import type { Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { getByName } from '../../common/registry.ts';
import type { Logger } from '../../common/log.ts';
import type { Engine } from '../engine/engine-api.ts';
import { createSimEngine, engineOptionsFromConfig } from '../engine/index.ts';
import { createReferenceEngine, referenceEngineOptionsFromConfig } from '../reference/index.ts';
import { advertisedHost } from './addresses.ts';

/** What every engine factory gets: the `worker` config section, the clock, and the engine id to use. */
export interface EngineFactoryInput {
  readonly config: Config['worker'];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Unique per process incarnation (a restarted worker must not reuse one: peers tell them apart by it). */
  readonly engineId: string;
}

/**
 * An engine and how it moves KV to other workers:
 * - `sim`: nothing moves; a decode asks the holder with PullKv over gRPC and charges the link
 *   model's time (workers/server/remote-decode.ts).
 * - `tcp`: the engine's own block server (on `port`) serves its held blocks, and its decodes
 *   pull TCP handoffs themselves and notify the holder (workers/reference/transfer).
 */
export interface WorkerEngine {
  readonly engine: Engine;
  readonly kvTransfer: { readonly transport: 'sim' } | { readonly transport: 'tcp'; readonly port: number };
}

export type EngineFactory = (input: EngineFactoryInput) => WorkerEngine | Promise<WorkerEngine>;

/**
 * The engines a worker process can serve, by `worker.engine` name. The process never looks
 * inside an engine: it takes the `Engine` and the transport a factory returns.
 */
export const ENGINE_FACTORIES = {
  sim: ({ config, clock, logger, engineId }) => ({
    engine: createSimEngine({ ...engineOptionsFromConfig(config), engineId }, { clock, logger }),
    kvTransfer: { transport: 'sim' },
  }),
  reference: async ({ config, clock, logger, engineId }) => {
    // The block server binds worker.reference.kv_transfer.host (default: the worker's host);
    // handoffs name it as peers reach it, as every other address the worker advertises.
    const bindHost = config.reference.kv_transfer.host ?? config.host;
    const advertiseHost = advertisedHost(bindHost, bindHost === config.host ? config.advertise_host : undefined);
    const engine = await createReferenceEngine(
      referenceEngineOptionsFromConfig(config, {
        advertiseHost,
        engineId,
        ...(config.served_model_name === undefined ? {} : { servedModelName: config.served_model_name }),
      }),
      { clock, logger },
    );
    return { engine, kvTransfer: { transport: 'tcp', port: engine.kvTransfer.port } };
  },
} as const satisfies Record<Config['worker']['engine'], EngineFactory>;

export function engineFactory(name: string): EngineFactory {
  return getByName<EngineFactory>(ENGINE_FACTORIES, name, 'engine', 'worker.engine');
}
