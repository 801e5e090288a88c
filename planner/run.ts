import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../common/clock.ts';
import type { Config } from '../common/config/index.ts';
import { TandemError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { ExternalScaler } from '../proto/gen/third_party/keda/externalscaler_pb.ts';
import { createGrpcServer, type GrpcServer } from '../proto/grpc/index.ts';
import { createPlannerFromConfig } from './from-config.ts';
import {
  createDecisionBoard,
  createDirectScaler,
  createKedaHandlers,
  createPlannerRegistry,
  loadKubeConfig,
  startPlannerHttpServer,
  type DecisionBoard,
  type DirectScaler,
  type PlannerHttpServer,
} from './hooks/index.ts';
import { createPrometheusSource, createScrapeSource, type ObservationSource } from './observe/index.ts';
import type { Planner } from './planner.ts';
import type { Decision } from './types.ts';

export interface StartPlannerOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** Overrides the configured source (tests, the simulator's push source). */
  readonly source?: ObservationSource;
  /** Overrides how direct mode reaches Kubernetes. */
  readonly kubeConfig?: KubeConfig;
}

export interface RunningPlanner {
  readonly planner: Planner;
  readonly board: DecisionBoard;
  /** Bound ports: /metrics etc., and the KEDA gRPC server in keda mode. */
  readonly httpPort: number;
  readonly kedaPort: number | undefined;
  /** Runs one collect -> decide -> act round now (the loop calls it every interval). */
  tick(): Promise<Decision | undefined>;
  /** Stops the loop and the servers. */
  stop(): Promise<void>;
}

/**
 * `tandem planner` continuously: every interval, collect an observation, decide, publish the
 * decision (/metrics, /decision, KEDA) and, in direct mode, patch the Deployments. With dry_run
 * the decision is logged and shown on /decision only: no desired-replicas series, no KEDA
 * server, no patches.
 */
export async function startPlanner(config: Readonly<Config>, options: StartPlannerOptions): Promise<RunningPlanner> {
  const section = config.planner;
  const built = createPlannerFromConfig(config);
  if (!built.ok) throw built.error;
  const { planner, options: plannerOptions } = built.value;
  const { clock, log } = options;
  const attribution = plannerOptions.pools.map((pool) => ({
    name: pool.name,
    role: pool.role,
    workerPrefix: pool.workerPrefix,
  }));
  const slo = plannerOptions.slo;
  const source: ObservationSource =
    options.source ??
    (section.source.kind === 'prometheus'
      ? createPrometheusSource({
          url: section.source.url,
          windowS: section.interval_s,
          timeoutMs: section.source.timeout_s * 1000,
          clock,
          pools: attribution,
          slo,
        })
      : section.source.kind === 'scrape'
        ? createScrapeSource({
            url: section.source.url,
            timeoutMs: section.source.timeout_s * 1000,
            clock,
            pools: attribution,
            slo,
          })
        : missingPushSource());

  const dryRun = section.dry_run;
  const mode = section.hooks.mode;
  const board = createDecisionBoard();
  const http: PlannerHttpServer = await startPlannerHttpServer({
    host: section.hooks.host,
    port: section.hooks.metrics_port,
    registry: createPlannerRegistry(board, { exportDesired: !dryRun && mode === 'hpa' }),
    board,
  });
  let keda: GrpcServer | undefined;
  let kedaPort: number | undefined;
  let direct: DirectScaler | undefined;
  try {
    if (mode === 'keda' && !dryRun) {
      keda = createGrpcServer();
      keda.add(
        ExternalScaler,
        createKedaHandlers(
          board,
          plannerOptions.pools.map((pool) => pool.name),
        ),
      );
      kedaPort = await keda.listen(section.hooks.host, section.hooks.keda_port);
    }
    if (mode === 'direct' && !dryRun) {
      direct = createDirectScaler({
        kubeConfig: options.kubeConfig ?? loadKubeConfig(section.hooks.kubeconfig),
        namespace: section.hooks.namespace,
        deployments: Object.fromEntries(plannerOptions.pools.map((pool) => [pool.name, pool.deployment])),
        log,
      });
    }
  } catch (error) {
    await http.close();
    await keda?.close(0);
    throw error;
  }
  log.info(
    {
      mode,
      dryRun,
      httpPort: http.port,
      kedaPort,
      pools: plannerOptions.pools.map((pool) => `${pool.name}: ${pool.perf.label}`),
      source: options.source ? 'injected' : section.source.kind,
    },
    'planner started',
  );

  const controller = new AbortController();
  const tick = async (): Promise<Decision | undefined> => {
    let observation;
    try {
      observation = await source.collect(controller.signal);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'no observation this interval; keeping the last decision');
      return undefined;
    }
    if (!observation) return undefined;
    planner.observe(observation);
    const decision = planner.decide(clock.now());
    board.publish(decision);
    const summary = decision.pools.map((pool) => `${pool.name}=${pool.replicas}`).join(' ');
    log.info(
      {
        pools: summary,
        threshold: decision.disaggregationThresholdTokens,
        predictedRate: decision.predicted.requestRate,
      },
      dryRun ? `dry run: would scale ${summary}` : `decided ${summary}`,
    );
    log.debug({ reasons: decision.reasons }, 'decision reasons');
    if (direct)
      await direct
        .apply(decision)
        .catch((error: unknown) => log.error({ err: (error as Error).message }, 'direct scaling failed'));
    return decision;
  };

  const loop = (async () => {
    while (!controller.signal.aborted) {
      await tick();
      await clock.sleep(section.interval_s * 1000, controller.signal).catch(() => undefined);
    }
  })();

  return {
    planner,
    board,
    httpPort: http.port,
    kedaPort,
    tick,
    async stop() {
      controller.abort(new TandemError('cancelled', 'planner stopped'));
      await loop;
      await keda?.close(1000);
      await http.close();
    },
  };
}

function missingPushSource(): ObservationSource {
  return {
    collect: () =>
      Promise.reject(
        new TandemError(
          'invalid_request',
          'planner.source.kind is "push" but nothing pushes observations (only embedded use, e.g. the cluster simulator, can)',
        ),
      ),
  };
}
