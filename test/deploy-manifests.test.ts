import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../common/config/index.ts';
import { podVerdict, type PodLike } from '../orchestrator/discovery/index.ts';
import { matches as matchesSelector } from './fakes/fake-kube-api.ts';
import { DISCOVERY_METRICS, ORCHESTRATOR_METRICS, PLANNER_METRICS } from '../orchestrator/metrics/names.ts';
import { plannerOptionsFromConfig } from '../planner/index.ts';

const deployDir = new URL('../deploy/', import.meta.url).pathname;

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(join(dir, entry.name), suffix)
      : entry.name.endsWith(suffix)
        ? [join(dir, entry.name)]
        : [],
  );
}

interface Manifest {
  file: string;
  doc: Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
}

const manifests: Manifest[] = filesUnder(deployDir, '.yaml').flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
    return { file: relative(deployDir, file), doc: document.toJSON() as Manifest['doc'] };
  }),
);

/** kubernetes-models classes (JSON-schema validation) by apiVersion/kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

/** @kubernetes/client-node model class names, whose attribute maps list every field the API knows. */
const CLIENT_TYPES: Record<string, string> = {
  'v1/Namespace': 'V1Namespace',
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Service': 'V1Service',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'apps/v1/Deployment': 'V1Deployment',
  'autoscaling/v2/HorizontalPodAutoscaler': 'V2HorizontalPodAutoscaler',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
};

type AttributeMap = { baseName: string; type: string }[];

/**
 * Fields the Kubernetes API does not know, found by walking the value against the client's type
 * maps (the JSON schemas accept unknown fields; `kubectl apply --validate=strict` does not).
 */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array)
    return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map)
    return typeof value === 'object'
      ? Object.entries(value).flatMap(([key, item]) => unknownFields(item, map[1]!, `${path}.${key}`))
      : [];
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>)[type];
  if (!model?.getAttributeTypeMap || typeof value !== 'object') return [];
  const attributes = model.getAttributeTypeMap();
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    return attribute ? unknownFields(item, attribute.type, `${path}.${key}`) : [`${path}.${key}`];
  });
}

const key = (doc: Manifest['doc']) => `${doc.apiVersion}/${doc.kind}`;
const find = (kind: string, name: string): unknown =>
  manifests.find((m) => m.doc.kind === kind && m.doc.metadata.name === name)?.doc;

/** Every tandem_* metric name the text mentions, with histogram suffixes stripped. */
function metricNames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(/\btandem_[a-z0-9_]+/g)) names.add(match[0].replace(/_(bucket|sum|count)$/, ''));
  return [...names];
}
const KNOWN_METRICS = new Set<string>([
  ...Object.values(ORCHESTRATOR_METRICS),
  ...Object.values(DISCOVERY_METRICS),
  ...Object.values(PLANNER_METRICS),
]);

describe('deploy/ manifests', () => {
  it('holds the objects the deployment needs', () => {
    expect(manifests.length).toBeGreaterThan(15);
    const kinds = new Set(manifests.map((m) => m.doc.kind));
    for (const kind of [
      'Namespace',
      'Deployment',
      'Service',
      'ConfigMap',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'HorizontalPodAutoscaler',
      'ScaledObject',
    ])
      expect(kinds).toContain(kind);
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.doc.kind}/${m.doc.metadata?.name}`, m] as const))(
    '%s validates against its schema',
    (_name, manifest) => {
      const Model = MODELS[key(manifest.doc)];
      expect(Model, `no schema for ${key(manifest.doc)}`).toBeDefined();
      expect(() => new Model!(manifest.doc as never).validate()).not.toThrow();
      const clientType = CLIENT_TYPES[key(manifest.doc)];
      if (clientType) expect(unknownFields(manifest.doc, clientType, manifest.doc.kind)).toEqual([]);
    },
  );

  it('catches a broken manifest (the validation is not vacuous)', () => {
    const deployment = structuredClone(find('Deployment', 'tandem-planner')!) as {
      spec: { replicas: unknown; template: { spec: { containers: Record<string, unknown>[] } } };
    };
    deployment.spec.replicas = 'one';
    expect(() => new Deployment(deployment as never).validate()).toThrow(/replicas/);
    const typo = structuredClone(find('Deployment', 'tandem-planner')!) as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    typo.spec.template.spec.containers[0]!.imagePullPolice = 'Always';
    expect(unknownFields(typo, 'V1Deployment', 'Deployment')).toEqual([
      'Deployment.spec.template.spec.containers[0].imagePullPolice',
    ]);
    const scaledObject = structuredClone(find('ScaledObject', 'tandem-decode')!) as { spec: Record<string, unknown> };
    scaledObject.spec.minReplicaCount = 'x';
    expect(() => new ScaledObject(scaledObject as never).validate()).toThrow(/minReplicaCount/);
  });

  it("gives the planner only get and patch on the two pools' scale subresource", () => {
    const roles = manifests.filter((m) => m.doc.kind === 'Role' || m.doc.kind === 'ClusterRole');
    expect(roles.map((r) => `${r.doc.kind}/${r.doc.metadata?.name}`).sort()).toEqual([
      'Role/tandem-orchestrator-pods',
      'Role/tandem-planner-scale',
    ]);
    expect((find('Role', 'tandem-planner-scale') as unknown as { rules: unknown }).rules).toEqual([
      {
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: ['tandem-prefill', 'tandem-decode'],
        verbs: ['get', 'patch'],
      },
    ]);
    const binding = find('RoleBinding', 'tandem-planner-scale') as { subjects: { name: string }[] } | undefined;
    expect(binding?.subjects.map((s) => s.name)).toEqual(['tandem-planner']);
    const planner = find('Deployment', 'tandem-planner') as {
      spec: { template: { spec: { serviceAccountName: string } } };
    };
    expect(planner.spec.template.spec.serviceAccountName).toBe('tandem-planner');
  });

  it('gives the orchestrator only get, list and watch on pods in its namespace, and discovers the pools by selector', () => {
    expect((find('Role', 'tandem-orchestrator-pods') as unknown as { rules: unknown }).rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    ]);
    const binding = find('RoleBinding', 'tandem-orchestrator-pods') as
      | { subjects: { name: string; namespace: string }[] }
      | undefined;
    expect(binding?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'tandem-orchestrator', namespace: 'tandem' }]);
    const deployment = find('Deployment', 'tandem-orchestrator') as {
      spec: { template: { spec: { serviceAccountName: string; automountServiceAccountToken: boolean } } };
    };
    expect(deployment.spec.template.spec).toMatchObject({
      serviceAccountName: 'tandem-orchestrator',
      automountServiceAccountToken: true,
    });
    const map = find('ConfigMap', 'tandem-orchestrator') as { data: { 'tandem.yaml': string } };
    const config = parseConfig(parseYaml(map.data['tandem.yaml']));
    if (!config.ok) throw config.error;
    expect(config.value.discovery.kind).toBe('kubernetes');
    expect(config.value.workers).toEqual([]);
    // Every pool pod template is a worker to that discovery: matched by a selector, and complete
    // (role label, named ports, annotations) as a Running, Ready pod built from it.
    const pools = manifests.filter((m) => m.file.startsWith('pools/') && m.doc.kind === 'Deployment');
    expect(pools).toHaveLength(4);
    for (const pool of pools) {
      const template = (
        pool.doc as unknown as {
          spec: { template: { metadata: NonNullable<PodLike['metadata']>; spec: NonNullable<PodLike['spec']> } };
        }
      ).spec.template;
      expect(
        config.value.discovery.kubernetes.selectors.some((selector) =>
          matchesSelector(selector, template.metadata?.labels),
        ),
        pool.file,
      ).toBe(true);
      const pod: PodLike = {
        metadata: { ...template.metadata, name: `${pool.doc.metadata?.name}-0` },
        spec: template.spec,
        status: { phase: 'Running', podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'True' }] },
      };
      const verdict = podVerdict(pod);
      expect(verdict.kind, `${pool.file}: ${verdict.kind === 'skipped' ? verdict.message : ''}`).toBe('worker');
    }
  });

  it('runs vLLM pools with NIXL and KV events on, and a simulated pool under the same names', () => {
    for (const role of ['prefill', 'decode']) {
      const vllm = manifests.find((m) => m.file === `pools/vllm/${role}.yaml` && m.doc.kind === 'Deployment')!
        .doc as unknown as {
        metadata: { name: string };
        spec: { template: { spec: { containers: { args: string[]; env: { name: string }[] }[] } } };
      };
      const args = vllm.spec.template.spec.containers[0]!.args.join(' ');
      expect(args).toContain('"kv_connector":"NixlConnector"');
      expect(args).toContain('"enable_kv_cache_events":true');
      expect(vllm.spec.template.spec.containers[0]!.env.map((e) => e.name)).toContain('VLLM_NIXL_SIDE_CHANNEL_HOST');
      const sim = manifests.find((m) => m.file === `pools/sim/${role}.yaml` && m.doc.kind === 'Deployment')!.doc;
      expect(sim.metadata.name).toBe(vllm.metadata.name);
    }
  });

  it('points every HPA and ScaledObject at a pool the planner config sizes, through an existing Deployment', () => {
    const plannerConfig = find('ConfigMap', 'tandem-planner') as { data: { 'tandem.yaml': string } };
    const config = parseConfig(parseYaml(plannerConfig.data['tandem.yaml']));
    if (!config.ok) throw config.error;
    const options = plannerOptionsFromConfig(config.value);
    if (!options.ok) throw options.error;
    const pools = new Map(options.value.pools.map((pool) => [pool.name, pool.deployment]));
    const hpas = manifests
      .filter((m) => m.doc.kind === 'HorizontalPodAutoscaler')
      .map(
        (m) =>
          m.doc as unknown as {
            spec: {
              scaleTargetRef: { name: string };
              metrics: {
                external: {
                  metric: { name: string; selector: { matchLabels: { pool: string } } };
                  target: { type: string; averageValue: string };
                };
              }[];
            };
          },
      );
    expect(hpas).toHaveLength(2);
    for (const hpa of hpas) {
      const metric = hpa.spec.metrics[0]!.external;
      expect(metric.metric.name).toBe(PLANNER_METRICS.desiredReplicas);
      expect(metric.target).toEqual({ type: 'AverageValue', averageValue: '1' });
      expect(pools.get(metric.metric.selector.matchLabels.pool)).toBe(hpa.spec.scaleTargetRef.name);
      expect(find('Deployment', hpa.spec.scaleTargetRef.name)).toBeDefined();
    }
    const scaled = manifests
      .filter((m) => m.doc.kind === 'ScaledObject')
      .map(
        (m) =>
          m.doc as unknown as {
            spec: {
              scaleTargetRef: { name: string };
              triggers: { type: string; metadata: { pool: string; scalerAddress: string } }[];
            };
          },
      );
    expect(scaled).toHaveLength(2);
    for (const object of scaled) {
      const trigger = object.spec.triggers[0]!;
      expect(trigger.type).toBe('external');
      expect(pools.get(trigger.metadata.pool)).toBe(object.spec.scaleTargetRef.name);
      expect(trigger.metadata.scalerAddress).toBe(
        `tandem-planner.tandem.svc.cluster.local:${config.value.planner.hooks.keda_port}`,
      );
    }
  });

  it('gives prometheus-adapter a well-formed external rule for the desired-replicas metric', () => {
    const adapter = find('ConfigMap', 'prometheus-adapter-tandem') as { data: { 'config.yaml': string } };
    const rules = (
      parseYaml(adapter.data['config.yaml']) as {
        externalRules: {
          seriesQuery: string;
          metricsQuery: string;
          name: { matches: string; as: string };
          resources: { overrides: Record<string, { resource: string }> };
        }[];
      }
    ).externalRules;
    const desired = rules.find((rule) => rule.name.as === PLANNER_METRICS.desiredReplicas);
    expect(desired).toBeDefined();
    expect(desired!.seriesQuery).toContain(PLANNER_METRICS.desiredReplicas);
    expect(desired!.metricsQuery).toMatch(/<<\.Series>>\{<<\.LabelMatchers>>\}/);
    expect(desired!.metricsQuery).toContain('by (pool)');
    expect(desired!.resources.overrides.namespace).toEqual({ resource: 'namespace' });
  });

  it('parses the orchestrator and planner configs it ships with the real config schema', () => {
    for (const name of ['tandem-orchestrator', 'tandem-planner']) {
      const map = find('ConfigMap', name) as { data: { 'tandem.yaml': string } };
      const config = parseConfig(parseYaml(map.data['tandem.yaml']));
      expect(config.ok, config.ok ? '' : config.error.message).toBe(true);
    }
  });

  it('references only metric names that exist in orchestrator/metrics/names.ts', () => {
    const texts = [...filesUnder(deployDir, '.yaml'), ...filesUnder(deployDir, '.json')].map(
      (file) => [relative(deployDir, file), readFileSync(file, 'utf8')] as const,
    );
    const referenced = texts.flatMap(([file, text]) => metricNames(text).map((name) => [file, name] as const));
    expect(referenced.length).toBeGreaterThan(10);
    expect(referenced.filter(([, name]) => !KNOWN_METRICS.has(name))).toEqual([]);
    // And the check itself notices a name that does not exist.
    expect(metricNames('rate(tandem_request_totals[1m])').filter((name) => !KNOWN_METRICS.has(name))).toEqual([
      'tandem_request_totals',
    ]);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(deployDir, 'grafana/tandem-dashboard.json'), 'utf8')) as {
    uid: string;
    panels: { id: number; type: string; title: string; targets?: { expr: string; refId: string }[] }[];
  };

  it('is a dashboard whose every panel queries Prometheus', () => {
    expect(dashboard.uid).toBe('tandem-overview');
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThan(10);
    for (const panel of graphs) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!)
        expect(metricNames(target.expr).length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
    }
  });

  it('covers every metric the orchestrator and planner export', () => {
    const used = new Set(
      dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricNames(target.expr))),
    );
    expect([...KNOWN_METRICS].filter((name) => !used.has(name))).toEqual([]);
  });
});
