import { loadConfig, type ConfigSources } from '../../common/config/index.ts';
import { createOrchestrator, type Orchestrator, type OrchestratorDeps } from './create-orchestrator.ts';

export interface RunOptions extends ConfigSources {
  readonly deps?: OrchestratorDeps;
  /** Called once listening (tests, `tandem up`). */
  readonly onListening?: (orchestrator: Orchestrator, url: string) => void;
}

/**
 * The `tandem orchestrator` process: loads and validates the config (a bad one throws a
 * TandemError naming the field), assembles, listens, and runs until SIGTERM or SIGINT, then
 * shuts down gracefully (a second signal exits at once). SIGHUP re-reads the same file and
 * environment and applies the `workers` list; a config that no longer validates is logged and
 * ignored, and the running set stays.
 */
export async function runOrchestrator(options: RunOptions): Promise<void> {
  const sources: ConfigSources = { file: options.file, env: options.env ?? process.env, ...(options.overrides ? { overrides: options.overrides } : {}) };
  const loaded = loadConfig(sources);
  if (!loaded.ok) throw loaded.error;
  const orchestrator = await createOrchestrator(loaded.value, options.deps);
  const { logger } = orchestrator;
  let url: string;
  try {
    url = (await orchestrator.listen()).url;
  } catch (error) {
    await orchestrator.shutdown(0);
    throw error;
  }
  logger.info({ url, workers: loaded.value.workers.length }, `listening on ${url}`);
  options.onListening?.(orchestrator, url);

  const onHangup = () => {
    const reloaded = loadConfig(sources);
    if (!reloaded.ok) {
      logger.error({ err: reloaded.error.message }, 'SIGHUP: the config does not validate; keeping the running one');
      return;
    }
    const { workers } = orchestrator.reload(reloaded.value);
    if (workers) logger.info(workers, 'SIGHUP: worker set updated');
  };
  process.on('SIGHUP', onHangup);

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onStop = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      logger.info(`${signal}: shutting down`);
      void orchestrator.shutdown().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
  process.off('SIGHUP', onHangup);
}
