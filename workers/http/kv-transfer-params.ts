import type { EngineInfo, KvHandoff } from '../engine/engine-api.ts';
import type { WorkerAddress } from '../server/wire.ts';

/**
 * vLLM's NIXL `kv_transfer_params` (PROTOCOLS.md 3.1), read from requests and written into
 * prefill responses.
 *
 * The side channel: vLLM's `remote_host` / `remote_port` name the prefill worker's NIXL side
 * channel (a ZMQ ROUTER the decode side handshakes with before an RDMA READ). Here they name the
 * prefill worker's **gRPC** address, whose PullKv and ReleaseKv are this worker's control plane
 * of a pull (transport SIM: no bytes move, the decode side charges the link model's time). A
 * proxy that copies the params verbatim from the prefill response to the decode request, as
 * vLLM's toy proxy and Tandem's vllm-http backend do, needs nothing else; one that rewrites
 * `remote_host` with the prefill pod's address (production-stack) still reaches it.
 *
 * TCP handoffs (an engine that moves real KV bytes, the reference engine) are marked with two
 * keys of Tandem's own, which vLLM ignores: `tandem_transport: "tcp"` and `tandem_kv_layout`
 * ({num_layers, num_kv_heads, head_dim, dtype, block_bytes}). Their `remote_host` /
 * `remote_port` then name the prefill engine's TCP block server, which the decode engine reads
 * the blocks from and notifies itself. Without `tandem_transport` a handoff is SIM, as above.
 */

/** What a request's kv_transfer_params ask for. */
export type KvTransferMode =
  | { readonly mode: 'none' }
  /** do_remote_decode: prefill only (max_tokens forced to 1), hold the blocks, answer with params. */
  | { readonly mode: 'prefill' }
  /** do_remote_prefill with every field a pull needs. */
  | { readonly mode: 'decode'; readonly remote: RemotePrefill }
  /** do_remote_prefill with missing or malformed fields: vLLM logs "Got invalid KVTransferParams" and recomputes. */
  | { readonly mode: 'recompute'; readonly reason: string };

export interface RemotePrefill {
  readonly engineId: string;
  readonly requestId: string;
  /** Flattened over KV-cache groups (one group for full-attention models). */
  readonly blockIds: readonly number[];
  readonly host: string;
  readonly port: number;
  readonly tpSize: number;
  /** remote_block_size, when sent (vLLM reads it for heterogeneous block sizes). */
  readonly blockSize: number | undefined;
  /** remote_num_tokens, when sent. */
  readonly numTokens: number | undefined;
  /** remote_blocks_expiry_time (Unix seconds) as ms, when sent. */
  readonly expiresAtMs: number | undefined;
  /** `tandem_transport`: "tcp" names a block server; absent (vLLM's params) is "sim". */
  readonly transport: 'sim' | 'tcp';
  /** `tandem_kv_layout` of a TCP handoff, when sent. */
  readonly layout: TcpLayout | undefined;
}

/** What one block holds, as the holder describes it (tandem.v1.KvLayout). */
export interface TcpLayout {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly dtype: string;
  readonly blockBytes: number;
}

export function readKvTransferParams(params: Readonly<Record<string, unknown>> | undefined): KvTransferMode {
  if (!params) return { mode: 'none' };
  if (params.do_remote_decode === true) return { mode: 'prefill' };
  if (params.do_remote_prefill !== true) return { mode: 'none' };
  const missing = ['remote_engine_id', 'remote_request_id', 'remote_block_ids', 'remote_host', 'remote_port'].filter(
    (key) => params[key] === undefined || params[key] === null,
  );
  if (missing.length > 0) return { mode: 'recompute', reason: `missing ${missing.join(', ')}` };
  const { remote_engine_id: engineId, remote_request_id: requestId, remote_host: host } = params;
  if (typeof engineId !== 'string' || typeof requestId !== 'string' || typeof host !== 'string' || host === '')
    return { mode: 'recompute', reason: 'remote_engine_id, remote_request_id and remote_host must be strings' };
  const port = params.remote_port;
  if (!isInt(port) || port < 1 || port > 65535)
    return { mode: 'recompute', reason: `remote_port ${String(port)} is not a port` };
  const blockIds = flattenBlockIds(params.remote_block_ids);
  if (!blockIds)
    return { mode: 'recompute', reason: 'remote_block_ids must be a list of block ids or a list of such lists' };
  const optionalInt = (key: string) =>
    isInt(params[key]) && (params[key] as number) >= 0 ? (params[key] as number) : undefined;
  const expiry = params.remote_blocks_expiry_time;
  const transport = params.tandem_transport;
  if (transport !== undefined && transport !== null && transport !== 'sim' && transport !== 'tcp')
    return { mode: 'recompute', reason: `tandem_transport ${JSON.stringify(transport)} is not "sim" or "tcp"` };
  return {
    mode: 'decode',
    remote: {
      engineId,
      requestId,
      blockIds,
      host,
      port,
      tpSize: optionalInt('tp_size') ?? 1,
      blockSize: optionalInt('remote_block_size'),
      numTokens: optionalInt('remote_num_tokens'),
      expiresAtMs: typeof expiry === 'number' && Number.isFinite(expiry) ? expiry * 1000 : undefined,
      transport: transport === 'tcp' ? 'tcp' : 'sim',
      layout: readLayout(params.tandem_kv_layout),
    },
  };
}

function readLayout(value: unknown): TcpLayout | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const l = value as Record<string, unknown>;
  const { num_layers: numLayers, num_kv_heads: numKvHeads, head_dim: headDim, dtype, block_bytes: blockBytes } = l;
  if (
    !isInt(numLayers) ||
    !isInt(numKvHeads) ||
    !isInt(headDim) ||
    typeof dtype !== 'string' ||
    typeof blockBytes !== 'number'
  )
    return undefined;
  return { numLayers, numKvHeads, headDim, dtype, blockBytes };
}

/** The engine's view of the remote hold; block bytes are this engine's (same model on both sides). */
/**
 * The engine's view of the remote hold. SIM: block bytes are this engine's (same model on both
 * sides). TCP: the block server's address and the holder's layout, which the pulling engine
 * checks against its own.
 */
export function handoffFromRemote(
  remote: RemotePrefill,
  info: EngineInfo,
  promptLength: number,
  nowMs: number,
  holdTimeoutMs: number,
): KvHandoff {
  const blockSize = remote.blockSize ?? info.blockSize;
  const common = {
    engineId: remote.engineId,
    handoffId: remote.requestId,
    blockIds: remote.blockIds,
    blockSize,
    numTokens: remote.numTokens ?? Math.min(promptLength, remote.blockIds.length * blockSize),
    tpSize: remote.tpSize,
    expiresAtMs: remote.expiresAtMs ?? nowMs + holdTimeoutMs,
  };
  if (remote.transport !== 'tcp') return { ...common, blockBytes: info.blockBytes };
  const l = remote.layout;
  return {
    ...common,
    blockBytes: l?.blockBytes ?? 0,
    transport: 'tcp',
    host: remote.host,
    port: remote.port,
    ...(l ? { layout: { numLayers: l.numLayers, numKvHeads: l.numKvHeads, headDim: l.headDim, dtype: l.dtype } } : {}),
  };
}

/**
 * The prefill response's top-level kv_transfer_params, vLLM's keys plus the newer optional ones
 * (remote_num_tokens, remote_block_size, remote_blocks_expiry_time in Unix seconds).
 * remote_block_ids is one list per KV-cache group, as current vLLM sends it.
 */
export function kvTransferParamsFor(handoff: KvHandoff, self: WorkerAddress): Record<string, unknown> {
  const tcp = handoff.transport === 'tcp' && handoff.host !== undefined && handoff.port !== undefined;
  return {
    do_remote_prefill: true,
    do_remote_decode: false,
    remote_block_ids: [[...handoff.blockIds]],
    remote_engine_id: handoff.engineId,
    remote_request_id: handoff.handoffId,
    remote_host: tcp ? handoff.host : self.host,
    remote_port: tcp ? handoff.port : self.port,
    tp_size: handoff.tpSize,
    remote_num_tokens: handoff.numTokens,
    remote_block_size: handoff.blockSize,
    remote_blocks_expiry_time: handoff.expiresAtMs / 1000,
    ...(tcp
      ? {
          tandem_transport: 'tcp',
          tandem_kv_layout: handoff.layout && {
            num_layers: handoff.layout.numLayers,
            num_kv_heads: handoff.layout.numKvHeads,
            head_dim: handoff.layout.headDim,
            dtype: handoff.layout.dtype,
            block_bytes: handoff.blockBytes,
          },
        }
      : {}),
  };
}

function flattenBlockIds(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const flat = value.every(Array.isArray) ? (value as unknown[][]).flat() : value;
  return flat.every((id) => isInt(id) && id >= 0) ? (flat as number[]) : undefined;
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}
