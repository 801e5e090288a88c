import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function errorOf(result: ReturnType<typeof loadConfig>): string {
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.error.message;
}

describe('config loading', () => {
  it('fills every default when given nothing', () => {
    const result = loadConfig({ env: {} });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.orchestrator.port).toBe(8000);
    expect(result.value.disaggregation.mode).toBe('auto');
    expect(result.value.planner.slo.itl_s).toBe(0.05);
    expect(result.value.workers).toEqual([]);
  });

  it('returns a deeply frozen object', () => {
    const result = loadConfig({ env: {} });
    if (!result.ok) throw result.error;
    expect(Object.isFrozen(result.value.orchestrator)).toBe(true);
    expect(() => {
      (result.value.orchestrator as { port: number }).port = 1;
    }).toThrow();
  });

  it('rejects an unknown key, naming it, its file, and the keys that exist', () => {
    const path = file('unknown.yaml', 'orchestrator:\n  prot: 9000\n');
    const message = errorOf(loadConfig({ file: path, env: {} }));
    expect(message).toContain('orchestrator.prot: unknown key');
    expect(message).toContain(path);
    expect(message).toContain('known keys: host, port');
  });

  it('rejects an unknown section', () => {
    expect(errorOf(loadConfig({ file: file('section.yaml', 'routingg: {}\n'), env: {} }))).toContain(
      'routingg: unknown key',
    );
  });

  it('rejects a value of the wrong type, naming the key', () => {
    const message = errorOf(
      loadConfig({ file: file('type.yaml', 'orchestrator:\n  port: "eight thousand"\n'), env: {} }),
    );
    expect(message).toMatch(/orchestrator\.port: .*expected number/i);
  });

  it('rejects a value outside an enum, listing the allowed values', () => {
    const message = errorOf(loadConfig({ file: file('enum.yaml', 'disaggregation:\n  mode: sometimes\n'), env: {} }));
    expect(message).toContain('disaggregation.mode');
    expect(message).toMatch(/auto.*always.*never/);
  });

  it('lets the environment override the file, and flags override both', () => {
    const path = file('layers.yaml', 'orchestrator:\n  port: 9000\n  model: from-file\n');
    const result = loadConfig({
      file: path,
      env: { TANDEM_ORCHESTRATOR__PORT: '9100', TANDEM_ORCHESTRATOR__MODEL: 'from-env' },
      overrides: { 'orchestrator.model': 'from-flag' },
    });
    if (!result.ok) throw result.error;
    expect(result.value.orchestrator.port).toBe(9100);
    expect(result.value.orchestrator.model).toBe('from-flag');
  });

  it('names the environment variable behind a bad value', () => {
    const message = errorOf(loadConfig({ env: { TANDEM_ROUTING__BLOCK_SIZE: '-3' } }));
    expect(message).toContain('routing.block_size');
    expect(message).toContain('TANDEM_ROUTING__BLOCK_SIZE');
  });

  it('reads the file named by TANDEM_CONFIG', () => {
    const path = file('via-env.yaml', 'routing:\n  policy: round-robin\n');
    const result = loadConfig({ env: { TANDEM_CONFIG: path } });
    if (!result.ok) throw result.error;
    expect(result.value.routing.policy).toBe('round-robin');
  });

  it('says clearly when the file is missing or not YAML', () => {
    expect(errorOf(loadConfig({ file: join(dir, 'nope.yaml'), env: {} }))).toContain('no such file');
    expect(errorOf(loadConfig({ file: file('bad.yaml', 'orchestrator: [unclosed\n'), env: {} }))).toContain(
      'not valid YAML',
    );
  });

  it('validates worker entries inside the list by index', () => {
    const result = parseConfig({
      workers: [
        { name: 'w0', address: '127.0.0.1:1' },
        { name: 'w1', address: 'x', role: 'prefil' },
      ],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toContain('workers.1.role');
  });
});
