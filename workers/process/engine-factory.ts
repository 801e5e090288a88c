import type { Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { Engine } from '../engine/engine-api.ts';
import { createSimEngine, engineOptionsFromConfig } from '../engine/index.ts';

/** What every engine factory gets: the `worker` config section, the clock, and the engine id to use. */
export interface EngineFactoryInput {
  readonly config: Config['worker'];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Unique per process incarnation (a restarted worker must not reuse one: peers tell them apart by it). */
  readonly engineId: string;
}

export type EngineFactory = (input: EngineFactoryInput) => Engine | Promise<Engine>;

/**
 * The engines a worker process can serve, by `worker.engine` name. The process never looks
 * inside an engine: it takes the `Engine` a factory returns.
 */
export const ENGINE_FACTORIES = {
  sim: ({ config, clock, logger, engineId }) => createSimEngine({ ...engineOptionsFromConfig(config), engineId }, { clock, logger }),
  // SEAM: the reference engine (workers/reference) is being assembled on another branch. When it
  // lands, replace this entry with its factory; nothing else in the process changes.
  reference: () => {
    throw new TandemError('not_implemented', 'the reference engine is not assembled in this build yet (workers/process/engine-factory.ts has the seam); use --engine sim');
  },
} as const satisfies Record<Config['worker']['engine'], EngineFactory>;

export function engineFactory(name: string): EngineFactory {
  const factory = (ENGINE_FACTORIES as Record<string, EngineFactory>)[name];
  if (!factory) throw new TandemError('invalid_request', `unknown engine "${name}" (known: ${Object.keys(ENGINE_FACTORIES).join(', ')})`, { param: 'worker.engine' });
  return factory;
}
