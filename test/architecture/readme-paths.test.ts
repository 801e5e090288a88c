import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findMissingPaths, namesInRow } from './readme-paths.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe("the READMEs' file maps", () => {
  it('name only paths that exist', () => {
    const readmes = execFileSync('git', ['ls-files', '*README.md'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(readmes.length).toBeGreaterThan(10);
    const missing = findMissingPaths(ROOT, readmes, (path) => readFileSync(join(ROOT, path), 'utf8'));
    expect(missing.map((m) => `${m.readme}:${m.line} ${m.path}`)).toEqual([]);
  });

  it('reads the names in a row, not flags, placeholders or prose', () => {
    expect(namesInRow('| `routing-core.ts`, `routing/` | the routing core |')).toEqual(['routing-core.ts', 'routing/']);
    expect(namesInRow('| `--port N` | the port |')).toEqual([]);
    expect(namesInRow('| `<experiment>.notes.md` | notes |')).toEqual([]);
    expect(namesInRow('| `frontend-*.test.ts` (+ `frontend-harness.ts`) | tests |')).toEqual([
      'frontend-*.test.ts',
      'frontend-harness.ts',
    ]);
    expect(namesInRow('|---|---|')).toEqual([]);
    expect(namesInRow('| policy | `kv` |')).toEqual([]);
    expect(namesInRow('| `kv_events.topic` | a config key, not a file |')).toEqual([]);
  });

  describe('on a README naming a missing file', () => {
    const root = mkdtempSync(join(tmpdir(), 'tandem-readme-paths-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'orchestrator', 'frontend'), { recursive: true });
    writeFileSync(join(root, 'orchestrator', 'frontend', 'server.ts'), '');
    writeFileSync(
      join(root, 'orchestrator', 'README.md'),
      '| file | what |\n|---|---|\n| `frontend/server.ts` | here |\n| `tokenizer/` | gone |\n| `frontend/*.ts` | glob |\n',
    );

    it('reports the row and the path', () => {
      const missing = findMissingPaths(root, ['orchestrator/README.md'], (path) =>
        readFileSync(join(root, path), 'utf8'),
      );
      expect(missing).toEqual([{ readme: 'orchestrator/README.md', line: 4, path: 'tokenizer/' }]);
    });
  });
});
