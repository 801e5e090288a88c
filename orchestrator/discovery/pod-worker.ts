import { workersSection } from '../../common/config/sections/workers.ts';
import type { WorkerSpec } from './discovery.ts';

/**
 * The pod contract: what a pod must carry to be a worker (orchestrator/discovery/README.md
 * documents it for operators). Labels and annotations are looked up as annotation first, then
 * label, so either may carry them.
 */
export const POD_CONTRACT = {
  /** Required: prefill | decode | both (vLLM never announces a role). */
  role: 'tandem.dev/role',
  /** Optional: grpc | vllm-http. Default: grpc when a port is named `grpc`, else vllm-http on the `http` port. */
  backend: 'tandem.dev/backend',
  /** Optional profile hints for the cost model (common/profiles names); a worker's own announcement wins. */
  gpu: 'tandem.dev/gpu',
  model: 'tandem.dev/model',
  tp: 'tandem.dev/tp',
  /** Optional: vLLM --data-parallel-size behind the pod's ports (default 1). */
  dataParallelSize: 'tandem.dev/data-parallel-size',
  /** Optional: tandem | nixl | p2p-nccl | sglang (default tandem for grpc, nixl for vllm-http). */
  kvTransfer: 'tandem.dev/kv-transfer',
  /** Optional: the model name to send to a vllm-http worker. */
  servedModelName: 'tandem.dev/served-model-name',
  /** Optional: the KV-event topic (default ""). */
  kvEventsTopic: 'tandem.dev/kv-events-topic',
} as const;

/** Named container ports discovery reads (names of any container in the pod). */
export const POD_PORTS = {
  grpc: 'grpc',
  http: 'http',
  kvEvents: 'kv-events',
  kvReplay: 'kv-replay',
  /** p2p-nccl: the engine's kv_port (its zmq_address is podIP:this). */
  nccl: 'nccl',
  /** sglang prefill: --disaggregation-bootstrap-port. */
  bootstrap: 'bootstrap',
} as const;

/** The parts of a Pod discovery reads (client-node's V1Pod, or the raw JSON of a watch event). */
export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: unknown;
  };
  readonly spec?: {
    readonly containers?: readonly {
      readonly ports?: readonly { readonly name?: string; readonly containerPort?: number }[];
    }[];
  };
  readonly status?: {
    readonly phase?: string;
    readonly podIP?: string;
    readonly conditions?: readonly { readonly type?: string; readonly status?: string }[];
  };
}

/** Why a pod that should be a worker is not one (the metric label). */
export type SkipReason = 'missing-role' | 'missing-port' | 'bad-metadata';

export type PodVerdict =
  /** Running, Ready, not terminating, and complete: a worker. */
  | { readonly kind: 'worker'; readonly spec: WorkerSpec }
  /** Not (or no longer) serving: pending, NotReady, terminating, or without an IP. Not an error. */
  | { readonly kind: 'not-ready'; readonly why: string }
  /** Ready but its labels, ports or annotations are incomplete or invalid: skipped, logged, counted. */
  | { readonly kind: 'skipped'; readonly reason: SkipReason; readonly message: string };

/** Decides whether one pod is a worker and, if so, the `workers:` entry it stands for. Pure. */
export function podVerdict(pod: PodLike): PodVerdict {
  const name = pod.metadata?.name ?? '';
  if (pod.metadata?.deletionTimestamp) return { kind: 'not-ready', why: 'terminating' };
  if (pod.status?.phase !== 'Running') return { kind: 'not-ready', why: `phase ${pod.status?.phase ?? 'unknown'}` };
  const ready = pod.status.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return { kind: 'not-ready', why: 'not Ready' };
  const ip = pod.status.podIP;
  if (!ip) return { kind: 'not-ready', why: 'no pod IP' };

  const meta = (key: string): string | undefined => pod.metadata?.annotations?.[key] ?? pod.metadata?.labels?.[key];
  const ports = new Map<string, number>();
  for (const container of pod.spec?.containers ?? [])
    for (const port of container.ports ?? [])
      if (port.name && port.containerPort) ports.set(port.name, port.containerPort);
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const at = (portName: string) => {
    const port = ports.get(portName);
    return port === undefined ? undefined : `${host}:${port}`;
  };

  const role = meta(POD_CONTRACT.role);
  if (role === undefined)
    return {
      kind: 'skipped',
      reason: 'missing-role',
      message: `pod ${name}: no ${POD_CONTRACT.role} label (prefill, decode or both)`,
    };
  const backend = meta(POD_CONTRACT.backend) ?? (ports.has(POD_PORTS.grpc) ? 'grpc' : 'vllm-http');
  const servePort = backend === 'grpc' ? POD_PORTS.grpc : POD_PORTS.http;
  const serve = at(servePort);
  if (serve === undefined) {
    const wanted =
      meta(POD_CONTRACT.backend) === undefined
        ? `"${POD_PORTS.grpc}" (backend grpc) or "${POD_PORTS.http}" (backend vllm-http)`
        : `"${servePort}" (backend ${backend})`;
    return {
      kind: 'skipped',
      reason: 'missing-port',
      message: `pod ${name}: no container port named ${wanted}; has: ${[...ports.keys()].join(', ') || 'none'}`,
    };
  }
  const events = at(POD_PORTS.kvEvents);
  const replay = at(POD_PORTS.kvReplay);
  const protocol = meta(POD_CONTRACT.kvTransfer);
  const nccl = at(POD_PORTS.nccl);
  const bootstrap = ports.get(POD_PORTS.bootstrap);
  const int = (key: string) => {
    const text = meta(key);
    return text === undefined ? undefined : /^\d+$/.test(text) ? Number(text) : text;
  };
  const entry: Record<string, unknown> = {
    name,
    role,
    backend,
    address: backend === 'grpc' ? serve : `http://${serve}`,
    ...(events === undefined
      ? {}
      : {
          kv_events: {
            endpoint: `tcp://${events}`,
            ...(replay === undefined ? {} : { replay_endpoint: `tcp://${replay}` }),
            topic: meta(POD_CONTRACT.kvEventsTopic) ?? '',
          },
        }),
    ...defined('data_parallel_size', int(POD_CONTRACT.dataParallelSize)),
    ...defined('gpu', meta(POD_CONTRACT.gpu)),
    ...defined('model', meta(POD_CONTRACT.model)),
    ...defined('tp', int(POD_CONTRACT.tp)),
    ...defined('served_model_name', meta(POD_CONTRACT.servedModelName)),
    ...(protocol === undefined && nccl === undefined && bootstrap === undefined
      ? {}
      : {
          kv_transfer: {
            ...defined('protocol', protocol),
            ...defined('nccl_address', nccl),
            ...defined('bootstrap_port', bootstrap),
          },
        }),
  };
  // The same schema (and cross-field checks) as a `workers:` entry in the config file.
  const parsed = workersSection.safeParse([entry]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.slice(1).join('.');
    return {
      kind: 'skipped',
      reason: 'bad-metadata',
      message: `pod ${name}: ${field ? `${field}: ` : ''}${issue.message}`,
    };
  }
  return { kind: 'worker', spec: parsed.data[0]! };
}

const defined = <K extends string>(key: K, value: unknown) => (value === undefined ? {} : { [key]: value });

/** The worker set for a set of pods (several selectors may match one pod: it counts once), sorted by name. */
export function workersFromPods(pods: Iterable<PodLike>): {
  workers: WorkerSpec[];
  skipped: { pod: string; reason: SkipReason; message: string }[];
} {
  const byName = new Map<string, PodLike>();
  for (const pod of pods) if (pod.metadata?.name) byName.set(pod.metadata.name, pod);
  const workers: WorkerSpec[] = [];
  const skipped: { pod: string; reason: SkipReason; message: string }[] = [];
  for (const name of [...byName.keys()].sort()) {
    const verdict = podVerdict(byName.get(name)!);
    if (verdict.kind === 'worker') workers.push(verdict.spec);
    else if (verdict.kind === 'skipped') skipped.push({ pod: name, reason: verdict.reason, message: verdict.message });
  }
  return { workers, skipped };
}
