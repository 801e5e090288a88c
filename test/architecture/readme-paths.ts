import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/**
 * The file maps in the READMEs: every path a table row names in its first cell must exist.
 * A name is a backticked token in that cell that looks like a path (it has a `/` or a file
 * extension); it is looked up beside the README first, then from the repository root. A `*`
 * in the last segment matches any characters (`frontend-*.test.ts`). Flags (`--port N`),
 * placeholders (`<experiment>.notes.md`) and prose are not names.
 */

export interface MissingPath {
  /** The README, relative to the root. */
  readonly readme: string;
  readonly line: number;
  readonly path: string;
}

const BACKTICKED = /`([^`]+)`/g;
const PATH_LIKE = /^[\w.\-/*]+$/;
const HAS_EXTENSION = /\.(ts|js|mjs|json|jsonl|md|yaml|yml|sh|proto|html|css|svg|csv|txt)$/;

/** The path-like names in a table row's first cell, or none for a row that is not a table body row. */
export function namesInRow(row: string): string[] {
  if (!row.startsWith('|')) return [];
  const firstCell = row.split('|')[1] ?? '';
  if (/^\s*:?-+:?\s*$/.test(firstCell)) return [];
  const names: string[] = [];
  for (const match of firstCell.matchAll(BACKTICKED)) {
    const token = (match[1] as string).trim();
    if (!PATH_LIKE.test(token) || token.startsWith('-')) continue;
    if (token.includes('/') || HAS_EXTENSION.test(token)) names.push(token);
  }
  return names;
}

export function pathExists(root: string, readmeDir: string, name: string): boolean {
  const bare = name.replace(/\/$/, '');
  return [join(root, readmeDir, bare), join(root, bare)].some((candidate) => matches(candidate));
}

export function findMissingPaths(
  root: string,
  readmes: readonly string[],
  readText: (path: string) => string,
): MissingPath[] {
  const missing: MissingPath[] = [];
  for (const readme of readmes) {
    const lines = readText(readme).split('\n');
    lines.forEach((row, index) => {
      for (const name of namesInRow(row)) {
        if (!pathExists(root, posix.dirname(readme), name)) missing.push({ readme, line: index + 1, path: name });
      }
    });
  }
  return missing;
}

function matches(candidate: string): boolean {
  if (!candidate.includes('*')) return existsSync(candidate);
  const dir = dirname(candidate);
  if (!existsSync(dir)) return false;
  const last = candidate.slice(dir.length + 1);
  const pattern = new RegExp(`^${last.split('*').map(escapeRegExp).join('.*')}$`);
  return readdirSync(dir).some((entry) => pattern.test(entry));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
