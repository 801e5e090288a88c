import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTextFile } from './read-text-file.ts';

describe('readTextFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-read-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the text of a file', () => {
    writeFileSync(join(dir, 'a.txt'), 'héllo');
    expect(readTextFile(join(dir, 'a.txt'), 'trace')).toEqual({ ok: true, value: 'héllo' });
  });

  it('names what was asked for and the file when it is missing', () => {
    const result = readTextFile(join(dir, 'gone.yaml'), 'config file');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('invalid_request');
      expect(result.error.message).toBe(`cannot read config file ${join(dir, 'gone.yaml')}: no such file`);
    }
  });

  it('gives the reason for a path it cannot read as a file', () => {
    const result = readTextFile(dir, 'profile file');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/^cannot read profile file .*: EISDIR/);
  });
});
