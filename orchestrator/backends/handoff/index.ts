/** KV handoff protocols: one interface, one implementation per protocol, one registry. */
export { startEagerly, type EagerStream } from './eager.ts';
export { createNixlHandoff } from './nixl.ts';
export { createP2pNcclHandoff } from './p2p-nccl.ts';
export {
  callFor,
  firstTokenIsReproducible,
  type HandoffCall,
  type HandoffDeps,
  type HandoffInput,
  type HandoffPeer,
  type HandoffProtocol,
  type HandoffProtocolName,
  type HandoffSession,
  type PrefillStep,
} from './protocol.ts';
export { createHandoffProtocols, DEFAULT_PROTOCOL, HANDOFF_PROTOCOLS, type HandoffProtocols } from './registry.ts';
export { createSglangHandoff } from './sglang.ts';
export { createTandemHandoff } from './tandem.ts';
