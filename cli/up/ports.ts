import { createServer } from 'node:net';
import { TandemError } from '../../common/errors.ts';

/**
 * Binds `host:port` and lets go: resolves with the port bound (the one asked for, or a free one
 * for 0). Fails with one clear line when it is taken or cannot be bound.
 */
export function probePort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${host}:${port}`;
      if (error.code === 'EADDRINUSE')
        reject(
          new TandemError(
            'failed_precondition',
            `port ${port} is already in use on ${host} (another tandem up?): stop what holds it or pass --port N`,
          ),
        );
      else if (error.code === 'EACCES')
        reject(
          new TandemError(
            'failed_precondition',
            `no permission to listen on ${where}: pass --port N with N above 1023`,
          ),
        );
      else reject(new TandemError('failed_precondition', `cannot listen on ${where}: ${error.message}`));
    });
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}
