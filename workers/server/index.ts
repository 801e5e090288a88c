/** tandem.v1.WorkerService over an Engine, and the decode side's KV control plane (PullKv / ReleaseKv to peers). */
export { createKvPeers, type KvPeers, type KvPeersOptions, type PeerHold, type PullAnswer } from './kv-peers.ts';
export { startRemoteDecode, type RemoteDecode, type RemoteDecodeInput } from './remote-decode.ts';
export { createWorkerService, type KvEventEndpointInfo, type WorkerServiceOptions } from './worker-service.ts';
export { handoffToWire, type Role, type WorkerAddress } from './wire.ts';
