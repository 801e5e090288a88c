import { TandemError } from '../../common/errors.ts';
import type { KvHandoffTicket } from './backend.ts';

/**
 * Where a vllm-http worker is: its configured address read as a base URL, and the host its NIXL
 * handoff names, made one the decode side can reach.
 */

export interface VllmAddress {
  /** "http://host:port": what the connection pool dials. */
  readonly origin: string;
  /** The base URL's path without a trailing slash ("" for none), put before every API path. */
  readonly prefix: string;
  readonly hostname: string;
}

/** A worker's address: a base URL, a bare "host:port" getting http://; anything else is a 400 on `workers.address`. */
export function parseVllmAddress(worker: string, address: string): VllmAddress {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TandemError('invalid_request', `worker ${worker}: "${address}" is not a URL`, {
      param: 'workers.address',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TandemError(
      'invalid_request',
      `worker ${worker}: a vllm-http address is http(s)://host:port, got "${address}"`,
      { param: 'workers.address' },
    );
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, ''), hostname: url.hostname };
}

/** The NIXL handoff of a prefill's `kv_transfer_params` (null when it sent none), its remote host fixed. */
export function nixlHandoff(params: unknown, workerHost: string): KvHandoffTicket | null {
  return params && typeof params === 'object'
    ? { kind: 'nixl', params: fixRemoteHost(params as Record<string, unknown>, workerHost) }
    : null;
}

/**
 * vLLM reports its NIXL side channel as VLLM_NIXL_SIDE_CHANNEL_HOST, "localhost" unless told
 * otherwise, and a worker bound to every interface may report a wildcard: point either at the
 * worker's host, as production-stack does. Everything else is passed on verbatim.
 */
function fixRemoteHost(params: Record<string, unknown>, workerHost: string): Record<string, unknown> {
  const host = params.remote_host;
  if (typeof host !== 'string') return params;
  if (WILDCARD_HOSTS.has(host) || (isLoopback(host) && !isLoopback(workerHost)))
    return { ...params, remote_host: workerHost };
  return params;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]', '*']);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';
}
