import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEdge, listSourceFiles, readImports, ruleFor } from './import-graph.ts';
import { IMPORT_RULES } from './import-rules.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CODE_FOLDERS = ['bin', 'cli', 'common', 'proto', 'orchestrator', 'planner', 'workers', 'bench', 'test'];

function violationsIn(root: string, folders: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of listSourceFiles(root, folders)) {
    for (const edge of readImports(root, file)) {
      const violation = checkEdge(IMPORT_RULES, edge);
      if (violation) found.push(`${edge.file} '${edge.specifier}': ${violation.reason}`);
    }
  }
  return found;
}

describe('the import rule', () => {
  it('holds for every source file in the tree', () => {
    expect(violationsIn(ROOT, CODE_FOLDERS)).toEqual([]);
  });

  it('puts every source file under a rule', () => {
    const unruled = listSourceFiles(ROOT, CODE_FOLDERS).filter((file) => ruleFor(IMPORT_RULES, file) === undefined);
    expect(unruled).toEqual([]);
  });

  describe('on a tree that breaks it', () => {
    const root = mkdtempSync(join(tmpdir(), 'tandem-import-rule-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const write = (path: string, text: string): void => {
      mkdirSync(join(root, dirname(path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('workers/engine/bad.ts', "import { x } from '../../orchestrator/routing/index.ts';\n");
    write(
      'orchestrator/routing/io.ts',
      "import { createServer } from 'node:http';\nexport { x } from '../frontend/server.ts';\n",
    );
    write('orchestrator/kv-index/lazy.ts', "const m = await import('../../workers/engine/index.ts');\n");
    write('common/up.ts', "import type { Plan } from '../planner/types.ts';\n");
    write(
      'orchestrator/dispatch/fine.ts',
      "import { a } from '../routing/index.ts';\nimport { b } from '../../common/log.ts';\nimport { c } from 'fastify';\n",
    );
    write('planner/fine.ts', "import { NAMES } from '../orchestrator/metrics/names.ts';\n");
    write(
      'orchestrator/routing/fixture.test.ts',
      "import { createCacheFleet } from '../../test/fakes/prefix-cache.ts';\n",
    );
    write('orchestrator/routing/fixture.ts', "import { createCacheFleet } from '../../test/fakes/prefix-cache.ts';\n");
    write('planner/bad.ts', "import { createFleet } from '../orchestrator/discovery/fleet.ts';\n");

    it('names each import across the rule, and only those', () => {
      const found = violationsIn(root, ['common', 'orchestrator', 'planner', 'workers']);
      expect(found.map((line) => line.slice(0, line.indexOf("': ") + 1))).toEqual([
        "common/up.ts '../planner/types.ts'",
        "orchestrator/kv-index/lazy.ts '../../workers/engine/index.ts'",
        "orchestrator/routing/fixture.ts '../../test/fakes/prefix-cache.ts'",
        "orchestrator/routing/io.ts 'node:http'",
        "orchestrator/routing/io.ts '../frontend/server.ts'",
        "planner/bad.ts '../orchestrator/discovery/fleet.ts'",
        "workers/engine/bad.ts '../../orchestrator/routing/index.ts'",
      ]);
    });
  });
});
