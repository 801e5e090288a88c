import type { Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { createStaticDiscovery, type WorkerDiscovery } from './discovery.ts';
import { createKubernetesDiscovery, loadKubernetesAccess } from './kubernetes-discovery.ts';

/**
 * The discovery `discovery.kind` names: `static` (the `workers:` list, the default) or
 * `kubernetes` (pods by label selector; `workers:` must then be empty, so one source says who
 * the workers are).
 */
export function createDiscovery(
  config: Readonly<Config>,
  deps: { logger: Logger; clock: Clock; registry?: Registry },
): WorkerDiscovery {
  const d = config.discovery;
  if (d.kind === 'static') return createStaticDiscovery(config.workers);
  if (config.workers.length > 0)
    throw new TandemError(
      'invalid_request',
      `config: workers must be empty with discovery.kind kubernetes (the workers are the pods matching discovery.kubernetes.selectors); ${config.workers.length} listed`,
      { param: 'workers' },
    );
  const k = d.kubernetes;
  let access: ReturnType<typeof loadKubernetesAccess>;
  try {
    access = loadKubernetesAccess(k.kubeconfig, k.namespace);
  } catch (error) {
    throw new TandemError(
      'invalid_request',
      `config: discovery.kubernetes: cannot load a kubeconfig${k.kubeconfig ? ` from ${k.kubeconfig}` : ' ($KUBECONFIG, the service account, ~/.kube/config)'}: ${(error as Error).message}`,
      { param: 'discovery.kubernetes.kubeconfig', cause: error },
    );
  }
  if (!access.kubeConfig.getCurrentCluster())
    throw new TandemError(
      'invalid_request',
      'config: discovery.kubernetes: the kubeconfig has no current cluster (not in a cluster, no $KUBECONFIG, no ~/.kube/config?)',
      { param: 'discovery.kubernetes.kubeconfig' },
    );
  return createKubernetesDiscovery({
    kubeConfig: access.kubeConfig,
    namespace: access.namespace,
    selectors: k.selectors,
    retryInitialMs: k.retry_initial_s * 1000,
    retryMaxMs: k.retry_max_s * 1000,
    logger: deps.logger,
    clock: deps.clock,
    ...(deps.registry ? { registry: deps.registry } : {}),
  });
}
