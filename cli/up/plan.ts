import type { Config } from '../../common/config/index.ts';
import { orchestratorSection } from '../../common/config/sections/orchestrator.ts';
import type { UpWorkerGroup } from '../../common/config/sections/up.ts';
import { fail, ok, TandemError, toTandemError, type Result } from '../../common/errors.ts';
import { engineProfile, modelProfile } from '../../common/profiles/index.ts';
import type { FlagSettings } from './flags.ts';

/** One worker process `tandem up` runs. */
export interface WorkerPlan {
  /** `prefill-0`, `decode-1`, `worker-0` (role both): its name in the orchestrator's config, logs and /ui. */
  readonly name: string;
  readonly role: UpWorkerGroup['role'];
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  readonly engine: 'sim' | 'reference';
  /** `tandem worker` arguments after `--config <file>`: role, profile, engine, seed, every port 0, JSON logs. */
  readonly args: readonly string[];
}

/** Everything `tandem up` starts, decided from the config before any process runs. */
export interface FleetPlan {
  readonly config: Readonly<Config>;
  readonly workers: readonly WorkerPlan[];
  /** The model name clients send (orchestrator.model, or the workers' profile's Hugging Face id). */
  readonly servedModel: string;
  readonly planner: boolean;
}

const NAME_PREFIX = { prefill: 'prefill', decode: 'decode', both: 'worker' } as const;
const DEFAULT_SERVED_MODEL = orchestratorSection.parse({}).model;

/**
 * Checks the fleet the config describes and names its processes. Fails, naming the field, on
 * unknown GPU or model profiles, a fleet mixing models (the orchestrator serves one), or KV
 * block sizes the router would reject.
 */
export function planFleet(config: Readonly<Config>, force: FlagSettings['force'] = {}): Result<FleetPlan> {
  const bad = (message: string, param: string) => fail(new TandemError('invalid_request', message, { param }));
  if (config.worker.block_size !== config.routing.block_size) {
    return bad(
      `worker.block_size (${config.worker.block_size}) differs from routing.block_size (${config.routing.block_size}): the orchestrator would route to no worker`,
      'worker.block_size',
    );
  }
  const workers: WorkerPlan[] = [];
  const perRole = { prefill: 0, decode: 0, both: 0 };
  for (const [index, group] of config.up.workers.entries()) {
    const gpu = force.gpu ?? group.gpu ?? config.worker.gpu;
    const model = force.model ?? group.model ?? config.worker.model;
    const tp = group.tp ?? config.worker.tp;
    const engine = force.engine ?? group.engine ?? config.worker.engine;
    try {
      engineProfile(gpu, model, tp);
    } catch (error) {
      return bad(`up.workers.${index}: ${toTandemError(error).message}`, `up.workers.${index}`);
    }
    for (let n = 0; n < group.count; n++) {
      const name = `${NAME_PREFIX[group.role]}-${perRole[group.role]++}`;
      const seed = config.worker.seed + workers.length;
      const ports = ['--grpc-port', '0', '--http-port', '0', '--kv-events-port', '0', '--replay-port', '0'];
      const args = [
        '--role',
        group.role,
        '--gpu',
        gpu,
        '--model',
        model,
        '--tp',
        String(tp),
        '--engine',
        engine,
        '--seed',
        String(seed),
        ...ports,
        '--log-format',
        'json',
      ];
      workers.push({ name, role: group.role, gpu, model, tp, engine, args });
    }
  }
  const models = [...new Set(workers.map((w) => modelProfile(w.model).name))];
  if (models.length > 1)
    return bad(
      `up.workers: every worker must run the same model (the orchestrator serves one), got ${models.join(', ')}`,
      'up.workers',
    );
  const profileId = modelProfile(models[0]!).hfId;
  const servedModel = config.orchestrator.model !== DEFAULT_SERVED_MODEL ? config.orchestrator.model : profileId;
  return ok({ config, workers, servedModel, planner: config.up.planner });
}

/** A running worker as the orchestrator's config lists it. */
export interface LaunchedWorker {
  readonly name: string;
  readonly role: UpWorkerGroup['role'];
  /** Its gRPC address, host:port. */
  readonly grpc: string;
}

/**
 * The config file the orchestrator process reads (JSON, which is YAML): the whole config with
 * the launched workers, the resolved port, JSON logs (`tandem up` formats them), and the planner
 * to show on /ui. It is rewritten, then the orchestrator is sent SIGHUP, when a worker restarts.
 */
export function orchestratorConfigFile(
  plan: FleetPlan,
  at: { port: number; workers: readonly LaunchedWorker[]; plannerUrl: string | undefined },
): Record<string, unknown> {
  const { config } = plan;
  return {
    ...config,
    log: { ...config.log, format: 'json' },
    // The planner runs as a dry run: its decision is shown on /ui, its threshold not followed.
    orchestrator: {
      ...config.orchestrator,
      port: at.port,
      model: plan.servedModel,
      ...(at.plannerUrl === undefined ? {} : { planner_url: at.plannerUrl }),
    },
    disaggregation: { ...config.disaggregation, follow_planner: false },
    workers: at.workers.map((w) => ({ name: w.name, role: w.role, backend: 'grpc', address: w.grpc })),
  };
}

/** The file every worker process reads (its `worker` section; role, profile and ports come as flags). */
export function workerConfigFile(plan: FleetPlan): Record<string, unknown> {
  return { log: { ...plan.config.log, format: 'json' }, worker: plan.config.worker };
}

/**
 * The planner's file: dry run, scraping the orchestrator's /metrics, serving /decision on
 * loopback at `plannerPort`. Without configured pools it sizes one prefill and one decode pool
 * of the fleet's own profiles (the first group of each role, else the first group).
 */
export function plannerConfigFile(
  plan: FleetPlan,
  at: { orchestratorUrl: string; plannerPort: number },
): Record<string, unknown> {
  const { config } = plan;
  const section = config.planner;
  const like = (role: 'prefill' | 'decode') => plan.workers.find((w) => w.role === role) ?? plan.workers[0]!;
  const pools =
    section.pools.length > 0
      ? section.pools
      : (['prefill', 'decode'] as const).map((role) => ({
          name: role,
          role,
          gpu: like(role).gpu,
          model: like(role).model,
          tp: like(role).tp,
          min_replicas: 1,
          max_replicas: 64,
        }));
  return {
    ...config,
    log: { ...config.log, format: 'json' },
    planner: {
      ...section,
      dry_run: true,
      pools,
      source: { ...section.source, kind: 'scrape', url: `${at.orchestratorUrl}/metrics` },
      hooks: { ...section.hooks, host: '127.0.0.1', metrics_port: at.plannerPort },
    },
  };
}
