import cluster from 'node:cluster';
import { loadConfig, processCount, type ConfigSources } from '../../common/config/index.ts';
import { realClock } from '../../common/clock.ts';
import { createLogger } from '../../common/log.ts';
import { createRoutingCore } from '../routing/index.ts';
import { runClusterPrimary } from './cluster-primary.ts';
import { joinCluster } from './cluster-serving.ts';
import { createOrchestrator, type Orchestrator, type OrchestratorDeps } from './create-orchestrator.ts';
import { limitHeapGrowth } from './heap-growth.ts';

export interface RunOrchestratorOptions extends ConfigSources {
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
 *
 * With `orchestrator.processes` > 1 (`auto`: one per core) this process becomes the cluster
 * primary (cluster-primary.ts) and forks that many serving processes, each of which runs this
 * same function and lands in the serving branch. An embedded caller (tests, the simulator)
 * wanting one plain process sets `processes: 1`; `deps` and `onListening` only make sense then.
 */
export async function runOrchestrator(options: RunOrchestratorOptions): Promise<void> {
  const sources: ConfigSources = {
    file: options.file,
    env: options.env ?? process.env,
    ...(options.overrides ? { overrides: options.overrides } : {}),
  };
  const loaded = loadConfig(sources);
  if (!loaded.ok) throw loaded.error;
  const config = loaded.value;
  const processes = processCount(config.orchestrator);
  if (cluster.isPrimary && processes > 1) {
    // What the serving processes would refuse (an unknown policy, say) is refused here, once.
    createRoutingCore(config.routing, { clock: realClock });
    const logger = createLogger({ name: 'orchestrator', level: config.log.level, format: config.log.format });
    process.exitCode = await runClusterPrimary({ processes, logger });
    return;
  }
  limitHeapGrowth(config.orchestrator.heap_growth_percent);
  const member = cluster.isWorker ? joinCluster() : undefined;
  // A terminal's Ctrl-C reaches every process of the group: the primary turns it into SIGTERM for each.
  if (member) process.on('SIGINT', () => {});
  let orchestrator: Orchestrator;
  try {
    orchestrator = await createOrchestrator(config, { ...options.deps, ...(member ? { cluster: member.deps } : {}) });
  } catch (error) {
    // The IPC channel to the primary would keep this process alive: let it exit.
    if (member) process.disconnect?.();
    throw error;
  }
  member?.answerMetricsFrom(orchestrator.metrics.registry);
  const { logger } = orchestrator;
  let url: string;
  try {
    url = (await orchestrator.listen()).url;
  } catch (error) {
    await orchestrator.shutdown(0);
    // The IPC channel to the primary would keep this process alive: let it exit.
    if (member) process.disconnect?.();
    throw error;
  }
  if (member) member.listening(url);
  else logger.info({ url, workers: loaded.value.workers.length }, `listening on ${url}`);
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
    if (!member) process.on('SIGINT', onStop);
  });
  process.off('SIGHUP', onHangup);
}
