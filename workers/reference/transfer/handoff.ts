import { create } from '@bufbuild/protobuf';
import { fail, ok, type Result } from '../../../common/errors.ts';
import {
  KvBlockGroupSchema,
  KvHandoffSchema,
  KvTransport,
  type KvHandoff,
} from '../../../proto/gen/tandem/v1/worker_pb.ts';
import { toProtoKvLayout, type KvBlockLayout } from '../kv/layout.ts';
import { KvTransferError } from './errors.ts';

/** What the prefill side knows when it hands a prompt's held blocks over. */
export interface TcpHandoffInput {
  /** This engine's id (vLLM: remote_engine_id). */
  readonly engineId: string;
  /** The id the blocks are held under, which the block server and ReleaseKv take. */
  readonly requestId: string;
  /** Where this engine's block server listens, as the decode side should dial it. */
  readonly host: string;
  readonly port: number;
  /** The prompt's blocks in prompt order; the last may be partial. */
  readonly blockIds: readonly number[];
  /** Prompt tokens whose KV the blocks hold. */
  readonly numTokens: number;
  readonly layout: KvBlockLayout;
  /** When the prefill side frees the blocks if nobody released them, Unix epoch ms. */
  readonly expiresAtUnixMs: number;
}

/** The `tandem.v1.KvHandoff` for a TCP pull (transport TCP, one block group, TP 1). */
export function createTcpKvHandoff(input: TcpHandoffInput): KvHandoff {
  return create(KvHandoffSchema, {
    transport: KvTransport.TCP,
    remoteEngineId: input.engineId,
    remoteRequestId: input.requestId,
    host: input.host,
    port: input.port,
    blockGroups: [create(KvBlockGroupSchema, { blockIds: [...input.blockIds] })],
    blockSize: input.layout.blockSize,
    numTokens: input.numTokens,
    tpSize: 1,
    layout: toProtoKvLayout(input.layout),
    expiresAtUnixMs: input.expiresAtUnixMs,
  });
}

/** A handoff checked against the local pool's layout: what the decode side pulls, from where. */
export interface TcpPullPlan {
  readonly host: string;
  readonly port: number;
  readonly remoteEngineId: string;
  readonly remoteRequestId: string;
  /** Remote block ids in prompt order; block i holds positions i*blockSize .. (i+1)*blockSize-1. */
  readonly blockIds: readonly number[];
  readonly numTokens: number;
  readonly blockSize: number;
}

/**
 * The fields of a handoff a TCP pull depends on, whichever form it arrived in (a
 * `tandem.v1.KvHandoff`, or the engine API's KvHandoff inside a worker).
 */
export interface TcpHandoffFields {
  /** "tcp" for a pullable handoff; anything else is refused, named in the message. */
  readonly transport: string;
  readonly host: string;
  readonly port: number;
  readonly remoteEngineId: string;
  readonly remoteRequestId: string;
  /** Block ids per KV-cache group. */
  readonly blockGroups: readonly (readonly number[])[];
  readonly blockSize: number;
  readonly numTokens: number;
  readonly tpSize: number;
  readonly layout:
    | {
        readonly numLayers: number;
        readonly numKvHeads: number;
        readonly headDim: number;
        readonly dtype: string;
        readonly blockBytes: number;
      }
    | undefined;
}

/**
 * Checks a handoff (untrusted: it crossed the orchestrator) before any byte moves: TCP transport,
 * an address, a request id, one block group, the local block size and layout, and exactly
 * ceil(numTokens / blockSize) blocks. Failures are `invalid_handoff`, which the decode side
 * answers like any other failed pull (recompute, or fail per the load-failure policy).
 */
export function parseTcpKvHandoff(handoff: KvHandoff, local: KvBlockLayout): Result<TcpPullPlan, KvTransferError> {
  return checkTcpHandoff(
    {
      transport:
        handoff.transport === KvTransport.TCP ? 'tcp' : (KvTransport[handoff.transport] ?? String(handoff.transport)),
      host: handoff.host,
      port: handoff.port,
      remoteEngineId: handoff.remoteEngineId,
      remoteRequestId: handoff.remoteRequestId,
      blockGroups: handoff.blockGroups.map((group) => group.blockIds),
      blockSize: handoff.blockSize,
      numTokens: handoff.numTokens,
      tpSize: handoff.tpSize,
      layout: handoff.layout,
    },
    local,
  );
}

/** parseTcpKvHandoff's checks on a handoff in any form. */
export function checkTcpHandoff(handoff: TcpHandoffFields, local: KvBlockLayout): Result<TcpPullPlan, KvTransferError> {
  const invalid = (why: string) =>
    fail(
      new KvTransferError(
        'invalid_handoff',
        `KV handoff for ${handoff.remoteRequestId || '(no request id)'} cannot be pulled over TCP: ${why}`,
      ),
    );
  if (handoff.transport !== 'tcp') return invalid(`transport is ${handoff.transport}, not TCP`);
  if (handoff.host === '' || !Number.isInteger(handoff.port) || handoff.port < 1 || handoff.port > 65535)
    return invalid(`bad address ${handoff.host}:${handoff.port}`);
  if (handoff.remoteRequestId === '') return invalid('no remote_request_id');
  if (handoff.blockGroups.length !== 1)
    return invalid(`${handoff.blockGroups.length} block groups, the reference engine has 1`);
  if (handoff.tpSize > 1) return invalid(`tensor parallel size ${handoff.tpSize}, the reference engine has 1`);
  if (handoff.blockSize !== local.blockSize)
    return invalid(`block size ${handoff.blockSize}, this worker uses ${local.blockSize}`);
  const l = handoff.layout;
  if (
    !l ||
    l.numLayers !== local.numLayers ||
    l.numKvHeads !== local.numKvHeads ||
    l.headDim !== local.headDim ||
    l.dtype !== local.dtype ||
    l.blockBytes !== local.blockBytes
  ) {
    const got = l
      ? `${l.numLayers} layers, ${l.numKvHeads} KV heads, head dim ${l.headDim}, ${l.dtype}, ${l.blockBytes} bytes`
      : 'none';
    return invalid(
      `layout ${got} differs from this worker's (${local.numLayers}, ${local.numKvHeads}, ${local.headDim}, ${local.dtype}, ${local.blockBytes})`,
    );
  }
  const blockIds = handoff.blockGroups[0]!;
  if (!blockIds.every((id) => Number.isInteger(id) && id >= 0 && id <= 0xffffffff))
    return invalid('a block id is not a u32');
  const expected = Math.ceil(handoff.numTokens / handoff.blockSize);
  if (!Number.isInteger(handoff.numTokens) || handoff.numTokens < 1 || blockIds.length !== expected)
    return invalid(`${blockIds.length} blocks for ${handoff.numTokens} tokens (expected ${expected})`);
  return ok({
    host: handoff.host,
    port: handoff.port,
    remoteEngineId: handoff.remoteEngineId,
    remoteRequestId: handoff.remoteRequestId,
    blockIds,
    numTokens: handoff.numTokens,
    blockSize: handoff.blockSize,
  });
}
