import { z } from 'zod';

/**
 * Kubernetes discovery: the workers are the pods matching `selectors` in `namespace`, read by
 * list-and-watch (never polling). The pod contract (labels, named ports, annotations) is in
 * orchestrator/discovery/README.md.
 */
const kubernetesSection = z.strictObject({
  /**
   * A kubeconfig file (out of cluster). Unset: client-node's default chain: $KUBECONFIG,
   * then the pod's service account (in cluster), then ~/.kube/config.
   */
  kubeconfig: z.string().min(1).optional(),
  /** Namespace of the pools. Unset: the kubeconfig context's namespace (in cluster: the pod's own), else "default". */
  namespace: z.string().min(1).optional(),
  /**
   * Label selectors, one per pool or one for all (Kubernetes selector syntax, e.g.
   * "app.kubernetes.io/component=worker,tandem.dev/pool=prefill"). A pod matched by several is one worker.
   */
  selectors: z.array(z.string().min(1)).min(1).default(['app.kubernetes.io/component=worker']),
  /** After a watch or list fails, the first retry waits this long, seconds; each failure in a row doubles it. */
  retry_initial_s: z.number().positive().default(0.5),
  /** Longest wait between retries, seconds. The last known worker set is kept meanwhile. */
  retry_max_s: z.number().positive().default(30),
});

/** Where the orchestrator's workers come from. */
export const discoverySection = z.strictObject({
  /**
   * `static`: the `workers:` list (re-read on SIGHUP). `kubernetes`: pods by label selector;
   * `workers:` must then be empty.
   */
  kind: z.enum(['static', 'kubernetes']).default('static'),
  kubernetes: kubernetesSection.prefault({}),
});

export type DiscoveryConfig = z.output<typeof discoverySection>;
