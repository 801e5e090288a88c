import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tandem = new URL('../bin/tandem.js', import.meta.url).pathname;

describe('tandem command line', () => {
  it('lists every subcommand in --help', async () => {
    const { stdout } = await run(process.execPath, [tandem, '--help']);
    for (const name of ['up', 'orchestrator', 'worker', 'planner', 'simulate', 'bench'])
      expect(stdout).toMatch(new RegExp(`^\\s+${name}\\b`, 'm'));
  });

  it('rejects an unknown subcommand with one line and a non-zero exit', async () => {
    const error = (await run(process.execPath, [tandem, 'frobnicate']).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(error.code).not.toBe(0);
    expect(error.stderr).toContain("unknown command 'frobnicate'");
    expect(error.stderr).not.toContain('    at ');
  });
});
