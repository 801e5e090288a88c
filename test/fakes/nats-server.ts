import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Debian's nats-server, as `.ci/setup-nats` installs it; null when it is not on PATH. */
export function natsServerBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : null;
}

/** A free loopback TCP port (bound as 0, read back, released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A real nats-server on 127.0.0.1:`port`; `kill()` SIGKILLs it, `start()` runs it again on the same port. */
export interface NatsServer {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  kill(): Promise<void>;
}

export async function startNatsServer(binary: string, port?: number): Promise<NatsServer> {
  const bound = port ?? (await freePort());
  let child: ChildProcess | undefined;
  const server: NatsServer = {
    port: bound,
    url: `nats://127.0.0.1:${bound}`,
    async start() {
      child = spawn(binary, ['-a', '127.0.0.1', '-p', String(bound)], { stdio: 'ignore' });
      const until = Date.now() + 15_000;
      while (!(await accepts(bound))) {
        if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
        if (Date.now() > until) throw new Error('nats-server did not start listening');
        await sleep(50);
      }
    },
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
  await server.start();
  return server;
}
