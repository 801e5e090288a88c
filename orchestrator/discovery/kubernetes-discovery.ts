import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type Informer,
  type ObjectCache,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import { declareMetrics } from '../../common/metric-table.ts';
import type { Logger } from '../../common/log.ts';
import { DISCOVERY_METRICS as N } from '../metrics/names.ts';
import type { WorkerDiscovery, WorkerSpec } from './discovery.ts';
import { workersFromPods, type SkipReason } from './pod-worker.ts';

export interface KubernetesDiscoveryOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Label selectors; one informer (list + watch) each. */
  readonly selectors: readonly string[];
  /** First wait before restarting a failed list/watch, ms; doubles per failure in a row up to `retryMaxMs`. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Where the discovery metrics register (the orchestrator's registry). */
  readonly registry?: Registry;
}

export interface KubernetesDiscovery extends WorkerDiscovery {
  readonly kind: 'kubernetes';
  /** Pods matched now that are Ready but incomplete, and why (for /debug and tests). */
  skipped(): readonly { pod: string; reason: SkipReason; message: string }[];
}

/**
 * Workers from pods: one client-node informer per label selector (list, then watch from the
 * list's resourceVersion; a 410 Gone re-lists and reconciles through the informer's cache).
 * Every change recomputes the whole set from the informers' caches (orchestrator/discovery/
 * pod-worker.ts decides per pod) and hands it to the fleet when it differs.
 *
 * Failures never empty the fleet: client-node's informer stops for good on a cut connection or
 * an error status, so each one is restarted here with exponential backoff, and its cache (the
 * last known pods) stays what the set is computed from until the restart re-watches or re-lists.
 */
export function createKubernetesDiscovery(options: KubernetesDiscoveryOptions): KubernetesDiscovery {
  const { kubeConfig, namespace, clock } = options;
  const logger = options.logger.child({ discovery: 'kubernetes', namespace });
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const metrics = declareMetrics(options.registry ? [options.registry] : [], {
    skipped: {
      kind: 'counter',
      name: N.podsSkipped,
      help: 'Ready pods skipped for incomplete labels, ports or annotations (once per pod and reason).',
      labels: ['reason'],
    },
    failures: {
      kind: 'counter',
      name: N.watchFailures,
      help: 'Kubernetes lists or watches that failed (retried with backoff; the worker set is kept).',
    },
    workers: { kind: 'gauge', name: N.workers, help: 'Workers discovered from pods now.' },
  });

  interface Watched {
    readonly selector: string;
    readonly informer: Informer<V1Pod> & ObjectCache<V1Pod>;
    /** Failures in a row (0 once a restart connects). */
    failures: number;
    cancelRetry: (() => void) | undefined;
  }
  const watched: Watched[] = [];
  let listener: ((workers: readonly WorkerSpec[]) => void) | undefined;
  let lastJson: string | undefined;
  let skipped: { pod: string; reason: SkipReason; message: string }[] = [];
  /** `pod reason` pairs already logged and counted. */
  const reported = new Set<string>();
  let pending = false;
  let closed = false;

  const recompute = () => {
    pending = false;
    if (closed || !listener) return;
    const pods = watched.flatMap((w) => w.informer.list());
    const result = workersFromPods(pods);
    skipped = result.skipped;
    const now = new Set<string>();
    for (const skip of result.skipped) {
      const key = `${skip.pod} ${skip.reason}`;
      now.add(key);
      if (reported.has(key)) continue;
      reported.add(key);
      metrics.skipped.inc({ reason: skip.reason });
      logger.warn({ pod: skip.pod, reason: skip.reason }, `pod skipped: ${skip.message}`);
    }
    for (const key of reported) if (!now.has(key)) reported.delete(key);
    const json = JSON.stringify(result.workers);
    if (json === lastJson) return;
    lastJson = json;
    metrics.workers.set(result.workers.length);
    listener(result.workers);
  };
  // Coalesces the burst of add/update events of a list into one recompute.
  const schedule = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(recompute);
  };

  const restart = (w: Watched) => {
    if (closed) return;
    let failed = false;
    const onError = () => (failed = true);
    w.informer.on('error', onError);
    void w.informer
      .start()
      .catch(() => (failed = true))
      .finally(() => {
        w.informer.off('error', onError);
        if (!failed && !closed && w.failures > 0) {
          logger.info({ selector: w.selector, failures: w.failures }, 'pod watch restored');
          w.failures = 0;
        }
        schedule();
      });
  };

  const onFailure = (w: Watched, error: unknown) => {
    if (closed) return;
    metrics.failures.inc();
    const delay = Math.min(options.retryMaxMs, options.retryInitialMs * 2 ** w.failures);
    w.failures++;
    const message = describe(error);
    if (w.failures === 1)
      logger.warn(
        { selector: w.selector, err: message, retryMs: delay },
        'pod list/watch failed: keeping the last known workers and retrying',
      );
    else
      logger.debug(
        { selector: w.selector, err: message, failures: w.failures, retryMs: delay },
        'pod list/watch still failing',
      );
    w.cancelRetry?.();
    w.cancelRetry = clock.setTimer(delay, () => {
      w.cancelRetry = undefined;
      restart(w);
    });
  };

  for (const selector of options.selectors) {
    const informer = makeInformer(
      kubeConfig,
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      () => api.listNamespacedPod({ namespace, labelSelector: selector }),
      selector,
    );
    const w: Watched = { selector, informer, failures: 0, cancelRetry: undefined };
    informer.on('add', schedule);
    informer.on('update', schedule);
    informer.on('delete', schedule);
    informer.on('error', (error: unknown) => onFailure(w, error));
    watched.push(w);
  }

  return {
    kind: 'kubernetes',
    async start(onWorkers) {
      listener = onWorkers;
      lastJson = undefined;
      // Waits for each informer's first list (or its first failure, then retried in the background).
      await Promise.all(watched.map((w) => w.informer.start().catch((error: unknown) => onFailure(w, error))));
      recompute();
      logger.info(
        { selectors: options.selectors, workers: JSON.parse(lastJson ?? '[]').length },
        'watching worker pods',
      );
    },
    skipped: () => skipped,
    async close() {
      closed = true;
      listener = undefined;
      for (const w of watched) {
        w.cancelRetry?.();
        await w.informer.stop();
      }
    },
  };
}

/** One line for a client-node error (ApiException carries the HTTP status and body). */
function describe(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; statusCode?: unknown; message?: unknown };
    const status = e.statusCode ?? e.code;
    const message = typeof e.message === 'string' ? e.message.split('\n')[0] : String(error);
    return typeof status === 'number' ? `HTTP ${status}: ${message}` : (message ?? String(error));
  }
  return String(error);
}

/**
 * A KubeConfig as client-node loads it: from `file` (out of cluster), else its default chain
 * ($KUBECONFIG, then the pod's service account in cluster, then ~/.kube/config). The namespace is
 * `namespace` when given, else the current context's (in cluster: the pod's own), else "default".
 */
export function loadKubernetesAccess(
  file: string | undefined,
  namespace: string | undefined,
): { kubeConfig: KubeConfig; namespace: string } {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromDefault();
  return {
    kubeConfig,
    namespace: namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default',
  };
}
