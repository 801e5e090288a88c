/**
 * vLLM's per-data-parallel-rank endpoints (`offset_endpoint_port`): each DP rank runs its own
 * publisher, on the configured TCP port plus the rank (PUB 5557, 5558, ...; the replay port
 * likewise), or with `_dp{rank}` appended for inproc. Other transports are returned unchanged.
 * Publishers bind and subscribers connect with the same rule, so both sides agree.
 */
export function offsetEndpointPort(endpoint: string, dataParallelRank: number): string {
  if (!Number.isSafeInteger(dataParallelRank) || dataParallelRank < 0)
    throw new RangeError(`data-parallel rank must be a non-negative integer, got ${dataParallelRank}`);
  if (endpoint.startsWith('inproc://')) return `${endpoint}_dp${dataParallelRank}`;
  if (endpoint.startsWith('tcp://')) {
    const colon = endpoint.lastIndexOf(':');
    const port = Number(endpoint.slice(colon + 1));
    if (colon < 'tcp://'.length || !Number.isInteger(port)) throw new RangeError(`endpoint ${endpoint} has no port`);
    return `${endpoint.slice(0, colon)}:${port + dataParallelRank}`;
  }
  return endpoint;
}
