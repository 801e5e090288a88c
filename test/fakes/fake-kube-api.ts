import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * A stand-in Kubernetes API server for tests: real HTTP on loopback, Kubernetes' own JSON shapes,
 * reached through a kubeconfig exactly as a cluster is. It serves
 * - pods: `GET /api/v1/namespaces/{ns}/pods` (a PodList with metadata.resourceVersion) and the
 *   same with `?watch=true` (one JSON event per line: ADDED / MODIFIED / DELETED / BOOKMARK, from
 *   the given resourceVersion on; a pod that starts or stops matching the label selector arrives
 *   as ADDED or DELETED, as the real server sends it). A resourceVersion older than the kept
 *   history (see `compact()`) is answered as a real server does: HTTP 200 and one ERROR event
 *   carrying a 410 Expired Status, then the stream ends.
 * - deployments: `GET` / `PATCH` (merge patch) `/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`.
 * Faults: `dropWatches()` cuts every open watch mid-stream, `outage(ms)` refuses every request
 * for a while (503 Status, or reset connections), `compact()` forgets history.
 */
export interface FakeKubeApi {
  readonly url: string;
  /** Every request, in order. */
  readonly requests: RecordedRequest[];
  /** Deployment name -> spec.replicas of its scale subresource (PATCHes write here). */
  readonly replicas: Record<string, number>;
  /** A KubeConfig object pointing here (plain http, so insecure-skip-tls-verify as client-node needs). */
  kubeConfig(): KubeConfig;
  /** Writes a kubeconfig file pointing here into `dir` and returns its path. */
  writeKubeconfig(dir: string): string;
  /** Creates or replaces a pod (ADDED or MODIFIED); metadata.namespace defaults to the server's. */
  putPod(pod: FakePod): FakePod;
  /** Changes a pod in place (MODIFIED). */
  updatePod(name: string, change: (pod: FakePod) => void, namespace?: string): FakePod;
  /** Marks a pod terminating (deletionTimestamp set; MODIFIED), as `kubectl delete` does first. */
  markTerminating(name: string, namespace?: string): FakePod;
  /** Removes a pod (DELETED). */
  deletePod(name: string, namespace?: string): void;
  pods(namespace?: string): FakePod[];
  /** Called after every PATCH of a scale subresource. */
  onScale(listener: (deployment: string, replicas: number) => void): void;
  /** Cuts every open watch connection mid-stream (the socket is destroyed). Returns how many. */
  dropWatches(): number;
  /**
   * Refuses every request for `ms` (open watches are cut too): `status` answers 503 with a
   * Status body, `reset` destroys the connection before answering.
   */
  outage(ms: number, mode?: 'status' | 'reset'): void;
  /** Forgets the event history: a watch from any earlier resourceVersion gets 410 Gone. */
  compact(): void;
  /** Sends a BOOKMARK carrying the current resourceVersion on every open watch. */
  bookmark(): void;
  readonly openWatches: number;
  /** The current resourceVersion. */
  readonly resourceVersion: number;
  close(): Promise<void>;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly authorization: string | undefined;
}

/** A pod as JSON (the fields a test sets; the server fills namespace, uid and resourceVersion). */
export interface FakePod {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: { containers: { name: string; image?: string; ports?: { name?: string; containerPort: number }[] }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

/** A Running pod on 127.0.0.1 with the given named container ports (Ready unless told). */
export function fakePod(
  name: string,
  options: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ports: Record<string, number>;
    ready?: boolean;
    ip?: string;
  },
): FakePod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: options.labels ?? {}, annotations: options.annotations ?? {} },
    spec: {
      containers: [
        {
          name: 'worker',
          image: 'tandem:test',
          ports: Object.entries(options.ports).map(([portName, containerPort]) => ({ name: portName, containerPort })),
        },
      ],
    },
    status: {
      phase: 'Running',
      podIP: options.ip ?? '127.0.0.1',
      conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }],
    },
  };
}

interface PodEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: FakePod;
  /** The pod before a MODIFIED (selector transitions). */
  readonly previous: FakePod | undefined;
}

interface Watcher {
  readonly namespace: string;
  readonly selector: string | undefined;
  readonly response: ServerResponse;
  readonly socket: Socket;
}

export async function startFakeKubeApi(options: { namespace?: string; token?: string } = {}): Promise<FakeKubeApi> {
  const defaultNamespace = options.namespace ?? 'tandem';
  const token = options.token ?? 'tandem-test-token';
  const requests: RecordedRequest[] = [];
  const replicas: Record<string, number> = {};
  const pods = new Map<string, FakePod>();
  let history: PodEvent[] = [];
  /** Events at or below this resourceVersion are forgotten. */
  let compactedRv = 0;
  let rv = 1;
  let uid = 0;
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  const scaleListeners: ((deployment: string, replicas: number) => void)[] = [];
  let outage: { until: number; mode: 'status' | 'reset' } | undefined;

  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const copy = (pod: FakePod): FakePod => JSON.parse(JSON.stringify(pod)) as FakePod;
  const sendJson = (response: ServerResponse, status: number, body: unknown) =>
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const status = (code: number, reason: string, message: string) => ({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });

  const write = (watcher: Watcher, type: string, object: unknown) => {
    if (!watcher.response.writableEnded) watcher.response.write(`${JSON.stringify({ type, object })}\n`);
  };
  /** What `event` looks like to a watch with `selector` (selector transitions as the real server sends them), or nothing. */
  const project = (
    event: PodEvent,
    namespace: string,
    selector: string | undefined,
  ): { type: string; object: FakePod } | undefined => {
    if (event.object.metadata.namespace !== namespace) return undefined;
    const now = matches(selector, event.object.metadata.labels);
    if (event.type !== 'MODIFIED') return now ? event : undefined;
    const before = event.previous !== undefined && matches(selector, event.previous.metadata.labels);
    if (now && before) return event;
    if (now) return { type: 'ADDED', object: event.object };
    if (before) return { type: 'DELETED', object: event.object };
    return undefined;
  };
  const record = (type: PodEvent['type'], object: FakePod, previous?: FakePod) => {
    const event: PodEvent = { rv, type, object: copy(object), previous };
    history.push(event);
    for (const watcher of watchers) {
      const seen = project(event, watcher.namespace, watcher.selector);
      if (seen) write(watcher, seen.type, seen.object);
    }
  };
  const store = (pod: FakePod) => {
    const namespace = (pod.metadata.namespace ??= defaultNamespace);
    pod.apiVersion ??= 'v1';
    pod.kind ??= 'Pod';
    pod.metadata.uid ??= `uid-${++uid}`;
    const previous = pods.get(key(namespace, pod.metadata.name));
    rv++;
    pod.metadata.resourceVersion = String(rv);
    pods.set(key(namespace, pod.metadata.name), copy(pod));
    record(previous ? 'MODIFIED' : 'ADDED', pod, previous);
    return copy(pod);
  };
  const existing = (name: string, namespace = defaultNamespace) => {
    const pod = pods.get(key(namespace, name));
    if (!pod) throw new Error(`no pod ${namespace}/${name}`);
    return copy(pod);
  };

  const endWatch = (watcher: Watcher) => {
    watchers.delete(watcher);
    watcher.socket.destroy();
  };

  const handlePods = (
    request: IncomingMessage,
    response: ServerResponse,
    namespace: string,
    query: URLSearchParams,
  ) => {
    const selector = query.get('labelSelector') ?? undefined;
    const matching = () =>
      [...pods.values()].filter((p) => p.metadata.namespace === namespace && matches(selector, p.metadata.labels));
    const watch = query.get('watch');
    if (watch !== 'true' && watch !== '1') {
      return sendJson(response, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(rv) },
        items: matching(),
      });
    }
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // A watch's headers go at once, as a real server's do, before any event.
    response.flushHeaders();
    const from = query.get('resourceVersion');
    const socket = request.socket;
    const watcher: Watcher = { namespace, selector, response, socket };
    if (from && from !== '0' && Number(from) < compactedRv) {
      write(watcher, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${compactedRv})`));
      response.end();
      return;
    }
    if (!from || from === '0') {
      for (const pod of matching()) write(watcher, 'ADDED', pod);
    } else {
      for (const event of history) {
        if (event.rv <= Number(from)) continue;
        const seen = project(event, namespace, selector);
        if (seen) write(watcher, seen.type, seen.object);
      }
    }
    watchers.add(watcher);
    response.on('close', () => watchers.delete(watcher));
  };

  const handleScale = (
    request: IncomingMessage,
    response: ServerResponse,
    body: string,
    namespace: string,
    name: string,
  ) => {
    if (request.method === 'PATCH') {
      if (request.headers['content-type'] !== 'application/merge-patch+json')
        return sendJson(
          response,
          415,
          status(415, 'UnsupportedMediaType', `unsupported patch type ${request.headers['content-type']}`),
        );
      const patch = JSON.parse(body) as { spec?: { replicas?: number } };
      if (typeof patch.spec?.replicas !== 'number')
        return sendJson(response, 422, status(422, 'Invalid', 'spec.replicas must be a number'));
      replicas[name] = patch.spec.replicas;
      for (const listener of scaleListeners) listener(name, patch.spec.replicas);
    } else if (request.method !== 'GET') {
      return sendJson(response, 405, status(405, 'MethodNotAllowed', `${request.method} not allowed`));
    }
    if (replicas[name] === undefined)
      return sendJson(response, 404, status(404, 'NotFound', `deployments.apps "${name}" not found`));
    sendJson(response, 200, {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name, namespace, resourceVersion: String(rv) },
      spec: { replicas: replicas[name] },
      status: { replicas: replicas[name] },
    });
  };

  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://stand-in');
      requests.push({
        method: request.method ?? '',
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body,
        authorization: request.headers.authorization,
      });
      if (outage && Date.now() < outage.until) {
        if (outage.mode === 'reset') return void request.socket.destroy();
        return sendJson(
          response,
          503,
          status(503, 'ServiceUnavailable', 'the stand-in API server is refusing requests'),
        );
      }
      if (request.headers.authorization !== `Bearer ${token}`)
        return sendJson(response, 401, status(401, 'Unauthorized', 'Unauthorized'));
      const podsPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
      if (podsPath && request.method === 'GET')
        return handlePods(request, response, decodeURIComponent(podsPath[1]!), url.searchParams);
      const scalePath = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)\/scale$/.exec(url.pathname);
      if (scalePath) return handleScale(request, response, body, scalePath[1]!, scalePath[2]!);
      sendJson(response, 404, status(404, 'NotFound', `the stand-in does not serve ${request.method} ${url.pathname}`));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;

  const dropWatches = () => {
    const open = [...watchers];
    for (const watcher of open) endWatch(watcher);
    return open.length;
  };
  const updatePod = (name: string, change: (pod: FakePod) => void, namespace?: string) => {
    const pod = existing(name, namespace);
    change(pod);
    return store(pod);
  };

  return {
    url,
    requests,
    replicas,
    kubeConfig() {
      const config = new KubeConfig();
      config.loadFromOptions({
        clusters: [{ name: 'stand-in', server: url, skipTLSVerify: true }],
        users: [{ name: 'tandem', token }],
        contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'tandem', namespace: defaultNamespace }],
        currentContext: 'stand-in',
      });
      return config;
    },
    writeKubeconfig(dir) {
      const file = join(dir, 'kubeconfig.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '  - name: stand-in',
          '    cluster:',
          `      server: ${url}`,
          '      insecure-skip-tls-verify: true',
          'users:',
          '  - name: tandem',
          '    user:',
          `      token: ${token}`,
          'contexts:',
          '  - name: stand-in',
          '    context:',
          '      cluster: stand-in',
          '      user: tandem',
          `      namespace: ${defaultNamespace}`,
          'current-context: stand-in',
          '',
        ].join('\n'),
      );
      return file;
    },
    putPod: (pod) => store(copy(pod)),
    updatePod,
    markTerminating(name, namespace) {
      return updatePod(name, (pod) => (pod.metadata.deletionTimestamp = new Date().toISOString()), namespace);
    },
    deletePod(name, namespace = defaultNamespace) {
      const pod = existing(name, namespace);
      pods.delete(key(namespace, name));
      rv++;
      pod.metadata.resourceVersion = String(rv);
      record('DELETED', pod);
    },
    pods: (namespace = defaultNamespace) =>
      [...pods.values()].filter((p) => p.metadata.namespace === namespace).map(copy),
    onScale: (listener) => void scaleListeners.push(listener),
    dropWatches,
    outage(ms, mode = 'status') {
      outage = { until: Date.now() + ms, mode };
      dropWatches();
    },
    compact() {
      compactedRv = rv;
      history = [];
    },
    bookmark() {
      for (const watcher of watchers)
        write(watcher, 'BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } });
    },
    get openWatches() {
      return watchers.size;
    },
    get resourceVersion() {
      return rv;
    },
    async close() {
      for (const watcher of [...watchers]) endWatch(watcher);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Kubernetes equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated (all must hold). */
export function matches(selector: string | undefined, labels: Readonly<Record<string, string>> = {}): boolean {
  if (!selector) return true;
  return selector.split(',').every((raw) => {
    const term = raw.trim();
    if (term === '') return true;
    const notEqual = /^([^!=]+)!=(.*)$/.exec(term);
    if (notEqual) return labels[notEqual[1]!.trim()] !== notEqual[2]!.trim();
    const equal = /^([^!=]+)==?(.*)$/.exec(term);
    if (equal) return labels[equal[1]!.trim()] === equal[2]!.trim();
    if (term.startsWith('!')) return !(term.slice(1).trim() in labels);
    return term in labels;
  });
}
