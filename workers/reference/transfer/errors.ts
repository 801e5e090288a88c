import { TandemError } from '../../../common/errors.ts';

/**
 * Why a KV transfer failed. Every reason but `cancelled` is one the decode side answers by
 * recomputing the prompt (vLLM's `recompute` load-failure policy) or failing the request.
 *
 * - peer_unreachable: the connection could not be made (prefill worker gone or not listening)
 * - connection_lost:  the connection closed or broke before the transfer finished (short read)
 * - timeout:          the whole operation took longer than the client's timeout
 * - cancelled:        the caller's signal aborted it
 * - not_held:         the prefill side holds nothing, or not that block, for the request id
 * - bad_block_id:     a block id outside the prefill side's pool
 * - layout_mismatch:  the two pools' block layouts differ
 * - protocol:         a malformed, unexpected or wrongly sized frame
 * - remote_error:     any other error the server reported
 * - invalid_handoff:  the KvHandoff cannot be pulled with this transport (vLLM: "Got invalid
 *                     KVTransferParams")
 */
export type KvTransferFailure =
  | 'peer_unreachable'
  | 'connection_lost'
  | 'timeout'
  | 'cancelled'
  | 'not_held'
  | 'bad_block_id'
  | 'layout_mismatch'
  | 'protocol'
  | 'remote_error'
  | 'invalid_handoff';

/** A TandemError (code kv_transfer_failed, or cancelled) that also says why. */
export class KvTransferError extends TandemError {
  readonly reason: KvTransferFailure;

  constructor(reason: KvTransferFailure, message: string, options: { cause?: unknown } = {}) {
    super(reason === 'cancelled' ? 'cancelled' : 'kv_transfer_failed', message, options);
    this.reason = reason;
  }
}
