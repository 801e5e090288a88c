import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { TEST_FIXTURES, type ImportRule } from './import-rules.ts';

/**
 * Reads a source tree's imports and checks them against the import rules. Text only: a regular
 * expression over each file finds `import … from '…'`, `export … from '…'`, `import '…'` and
 * `import('…')` (type-only imports count: they still tie the folders together).
 */

export interface ImportEdge {
  /** The importing file, relative to the root, with forward slashes. */
  readonly file: string;
  /** The specifier as written. */
  readonly specifier: string;
  /** For a relative specifier, the imported path relative to the root; undefined for packages. */
  readonly target: string | undefined;
}

export interface Violation {
  readonly edge: ImportEdge;
  readonly rule: ImportRule;
  readonly reason: string;
}

const SOURCE_FILE = /\.(ts|js|mjs)$/;
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'gen', 'static', 'test-output', 'coverage', 'dist']);
const IMPORT_PATTERNS = [/\bfrom\s+'([^']+)'/g, /^\s*import\s+'([^']+)'/gm, /\bimport\(\s*'([^']+)'\s*\)/g];

/** Every source file under `folders` of `root`, relative to it. Generated code and browser assets are skipped. */
export function listSourceFiles(root: string, folders: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(path);
      } else if (SOURCE_FILE.test(entry.name)) {
        files.push(path);
      }
    }
  };
  for (const folder of folders) walk(folder);
  return files.sort();
}

export function readImports(root: string, file: string): ImportEdge[] {
  const text = readFileSync(join(root, file), 'utf8');
  const edges: ImportEdge[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1] as string;
      const target = specifier.startsWith('.')
        ? relative(root, join(root, dirname(file), specifier))
            .split('\\')
            .join('/')
        : undefined;
      edges.push({ file, specifier, target });
    }
  }
  return edges;
}

/** The rule whose scope holds `file` most specifically, or undefined when none does. */
export function ruleFor(rules: readonly ImportRule[], file: string): ImportRule | undefined {
  let best: ImportRule | undefined;
  for (const rule of rules) {
    if (!isUnder(file, rule.scope)) continue;
    if (best === undefined || rule.scope.length > best.scope.length) best = rule;
  }
  return best;
}

export function checkEdge(rules: readonly ImportRule[], edge: ImportEdge): Violation | undefined {
  const rule = ruleFor(rules, edge.file);
  if (rule === undefined) return undefined;
  if (edge.target === undefined) {
    const banned = rule.neverImport?.find(
      (name) =>
        edge.specifier === name ||
        edge.specifier.startsWith(`${name}/`) ||
        (name.startsWith('node:') && edge.specifier.startsWith(name)),
    );
    return banned === undefined
      ? undefined
      : { edge, rule, reason: `${rule.scope}/ must not import ${banned} (${rule.why})` };
  }
  const allowed = [rule.scope, ...rule.mayImport, ...(edge.file.endsWith('.test.ts') ? TEST_FIXTURES : [])];
  if (allowed.some((place) => isUnder(edge.target as string, place))) return undefined;
  return { edge, rule, reason: `${rule.scope}/ may import only ${allowed.join(', ')} (${rule.why})` };
}

function isUnder(path: string, place: string): boolean {
  return path === place || path.startsWith(`${place}/`);
}
