import { AppsV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import { TandemError } from '../../common/errors.ts';
import type { Decision } from '../types.ts';

export interface DirectScalerOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Pool name -> Deployment name. */
  readonly deployments: Readonly<Record<string, string>>;
  readonly log: Logger;
}

export interface DirectScaler {
  /** Reads each pool's scale and patches it where it differs from the decision. */
  apply(decision: Decision): Promise<void>;
}

/**
 * Direct mode: for each pool, GET the Deployment's `scale` subresource and, when its
 * spec.replicas differs from the decision, PATCH it with a JSON merge patch
 * `{"spec":{"replicas":N}}` (Content-Type application/merge-patch+json). Needs only get and
 * patch on deployments/scale (deploy/planner/rbac.yaml). A failing pool is logged and the rest
 * still proceed; the call rejects afterwards naming every pool that failed.
 */
export function createDirectScaler(options: DirectScalerOptions): DirectScaler {
  const api = options.kubeConfig.makeApiClient(AppsV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    async apply(decision) {
      const failures: string[] = [];
      for (const pool of decision.pools) {
        const name = options.deployments[pool.name];
        if (!name) continue;
        try {
          const scale = await api.readNamespacedDeploymentScale({ name, namespace: options.namespace });
          const current = scale.spec?.replicas;
          if (current === pool.replicas) continue;
          await api.patchNamespacedDeploymentScale(
            { name, namespace: options.namespace, body: { spec: { replicas: pool.replicas } } },
            mergePatch,
          );
          options.log.info(
            { pool: pool.name, deployment: name, from: current, to: pool.replicas },
            'scaled deployment',
          );
        } catch (error) {
          const message = (error as Error).message.split('\n')[0];
          options.log.error({ pool: pool.name, deployment: name, err: message }, 'scaling failed');
          failures.push(`${pool.name} (${options.namespace}/${name}): ${message}`);
        }
      }
      if (failures.length > 0) throw new TandemError('upstream_error', `could not scale ${failures.join('; ')}`);
    },
  };
}

/** A KubeConfig from a file, or the default chain (in-cluster service account, then ~/.kube/config). */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (file) config.loadFromFile(file);
  else config.loadFromDefault();
  return config;
}
