/**
 * Which part of the tree may import which: the one declaration of the dependency rule that
 * README.md states in prose (`proto`, `common` <- `workers`, `orchestrator` <- `planner` <- `bench`;
 * `workers` and `orchestrator` never import each other) and that each folder's README repeats.
 * `import-rules.test.ts` checks every source file against it.
 *
 * A rule applies to every file under `scope` (a folder, relative to the repository root); the
 * most specific scope wins. `mayImport` lists the folders (or single files) inside the
 * repository that those files may import; their own scope is always allowed. `neverImport`
 * lists npm packages and node: modules they must not import (prefix match: `node:http`
 * also covers `node:http2`).
 */

export interface ImportRule {
  readonly scope: string;
  readonly mayImport: readonly string[];
  readonly neverImport?: readonly string[];
  /** Why the rule is what it is, in one line. */
  readonly why: string;
}

/** Modules that do I/O: the pure decision core must import none of them. */
const IO_MODULES = [
  'node:net',
  'node:http',
  'node:https',
  'node:fs',
  'node:child_process',
  'node:cluster',
  'node:dgram',
  'node:dns',
  'node:tls',
  'node:worker_threads',
  'fastify',
  'zeromq',
  '@grpc/grpc-js',
  'undici',
  '@kubernetes/client-node',
  'nats',
  'prom-client',
] as const;

const ROUTING_CORE_WHY =
  'the routing core takes plain data and returns decisions; the simulator runs it on virtual time';

export const IMPORT_RULES: readonly ImportRule[] = [
  { scope: 'proto', mayImport: [], why: 'everything on the wire, definitions and codecs only' },
  { scope: 'common', mayImport: [], why: 'small pieces every component uses; nothing above it' },
  { scope: 'workers', mayImport: ['proto', 'common'], why: 'workers meet the orchestrator only on the wire' },
  { scope: 'orchestrator', mayImport: ['proto', 'common'], why: 'the orchestrator meets workers only on the wire' },
  { scope: 'orchestrator/hashing', mayImport: ['common'], neverImport: IO_MODULES, why: ROUTING_CORE_WHY },
  {
    scope: 'orchestrator/kv-index',
    mayImport: ['common', 'proto/kv-events/types.ts', 'orchestrator/hashing'],
    neverImport: IO_MODULES,
    why: ROUTING_CORE_WHY,
  },
  { scope: 'orchestrator/load', mayImport: ['common'], neverImport: IO_MODULES, why: ROUTING_CORE_WHY },
  {
    scope: 'orchestrator/routing',
    mayImport: [
      'common',
      'proto/kv-events/types.ts',
      'orchestrator/hashing',
      'orchestrator/kv-index',
      'orchestrator/load',
    ],
    neverImport: IO_MODULES,
    why: ROUTING_CORE_WHY,
  },
  {
    scope: 'orchestrator/disagg',
    mayImport: ['common', 'orchestrator/load', 'orchestrator/routing', 'orchestrator/kv-index', 'orchestrator/hashing'],
    neverImport: IO_MODULES,
    why: ROUTING_CORE_WHY,
  },
  {
    scope: 'planner',
    mayImport: ['proto', 'common', 'orchestrator/metrics/names.ts'],
    why: 'the planner reads the orchestrator through its metrics, never its code (metric names only)',
  },
  {
    scope: 'bench',
    mayImport: ['proto', 'common', 'workers', 'orchestrator', 'planner'],
    why: 'bench drives everything from outside',
  },
  {
    scope: 'cli',
    mayImport: ['proto', 'common', 'workers', 'orchestrator', 'planner', 'bench'],
    why: 'the command line assembles every part',
  },
  { scope: 'cli/up', mayImport: ['common'], why: 'tandem up runs the other parts as processes, never as modules' },
  { scope: 'bin', mayImport: ['cli'], why: 'the executable only starts the command line' },
  {
    scope: 'test',
    mayImport: ['proto', 'common', 'workers', 'orchestrator', 'planner', 'bench', 'cli'],
    why: 'cross-folder tests may import everything; nothing imports them',
  },
];

/**
 * Test files (`*.test.ts`) anywhere may also import these: the declared test fixtures, one copy
 * each for every test (the fake engines' prefix caches, fake workers and servers).
 */
export const TEST_FIXTURES = ['test/fakes'] as const;

/** Files at the repository root that are configuration, not code under a rule. */
export const ROOT_CONFIG_FILES = ['vitest.config.ts'] as const;
