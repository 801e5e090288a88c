import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, workerCommand } from './fakes/worker-process.ts';

const run = promisify(execFile);

/** `tandem worker` with bad flags and impossible setups: one line on stderr and the right exit code, no stack trace. */
async function worker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, workerCommand(args), { env: cleanEnv(), timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

const lines = (text: string) =>
  text.split('\n').filter((line) => line.trim() !== '' && !line.includes('ExperimentalWarning'));

let busy: Server | undefined;
afterAll(() => {
  busy?.close();
});

describe('tandem worker command line', () => {
  it.each([
    ['a non-numeric value', ['--tp', 'banana'], 'worker.tp'],
    ['a negative port', ['--http-port', '-5'], 'worker.http_port'],
    ['an unknown role', ['--role', 'router'], 'worker.role'],
    ['an unknown event shape', ['--kv-event-shape', 'xml'], 'worker.kv_event_shape'],
    ['a block size vLLM does not allow', ['--block-size', '12'], 'worker.block_size'],
    ['an unknown GPU profile', ['--gpu', 'tpu-v9'], 'known: '],
    ['an unknown flag', ['--frobnicate'], "unknown option '--frobnicate'"],
  ])('refuses %s with one line and exit 2', async (_name, args, mention) => {
    const result = await worker(args);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(mention);
    expect(result.stderr).not.toContain('    at ');
    expect(result.stdout).toBe('');
  });

  it('fails with one line naming the port when a port is taken', async () => {
    busy = createServer();
    await new Promise<void>((resolve) => busy!.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const result = await worker(['--http-port', String(port)]);
    expect(result.code).toBe(1);
    expect(lines(result.stderr).at(-1)).toMatch(new RegExp(`cannot bind HTTP on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
  });

  it('lists its flags in --help', async () => {
    const result = await worker(['--help']);
    expect(result.code).toBe(0);
    for (const flag of [
      '--engine',
      '--role',
      '--gpu',
      '--model',
      '--tp',
      '--grpc-port',
      '--http-port',
      '--kv-events-port',
      '--replay-port',
      '--time-scale',
      '--seed',
      '--num-gpu-blocks',
      '--kv-event-shape',
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });
});
