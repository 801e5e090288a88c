import { networkInterfaces } from 'node:os';

/** Hosts that bind every interface and so cannot be connected to as such. */
const WILDCARDS = new Set(['0.0.0.0', '::', '*', '[::]']);

/**
 * The host peers and the orchestrator connect to: the configured advertise host, else the bind
 * host, else (for a wildcard bind) this machine's first non-internal IPv4 address, falling back
 * to loopback.
 */
export function advertisedHost(bindHost: string, advertise: string | undefined): string {
  if (advertise !== undefined) return advertise;
  if (!WILDCARDS.has(bindHost)) return bindHost;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}

/** `host:port`, bracketing IPv6 literals. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A ZMQ TCP endpoint to bind on `host` (a wildcard binds every interface). */
export function zmqBindEndpoint(host: string, port: number): string {
  return WILDCARDS.has(host) ? `tcp://*:${port}` : `tcp://${hostPort(host, port)}`;
}

/** The port a bound ZMQ endpoint ("tcp://127.0.0.1:40123") ended up on. */
export function zmqPort(endpoint: string): number {
  const port = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`cannot read a port from ZMQ endpoint ${endpoint}`);
  return port;
}
