export { decodeSyncMessage, encodeSyncMessage, type SyncDelta, type SyncMessage } from './delta.ts';
export { createIpcTransport, IPC_SYNC, isIpcSyncEnvelope, type IpcSyncEnvelope } from './ipc-transport.ts';
export { createNatsTransport, type NatsTransportOptions } from './nats-transport.ts';
export {
  createReplicaSync,
  type ReplicaSync,
  type ReplicaSyncMetrics,
  type ReplicaSyncOptions,
} from './replica-sync.ts';
export { createSyncedBook, type SyncedBook, type SyncedBookOptions } from './synced-book.ts';
export type { SyncTransport } from './transport.ts';
