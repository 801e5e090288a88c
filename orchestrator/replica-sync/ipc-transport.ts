import type { SyncTransport } from './transport.ts';

/** The IPC envelope between a serving process and the cluster primary, which relays it to the siblings. */
export const IPC_SYNC = 'tandem:sync';
export interface IpcSyncEnvelope {
  readonly type: typeof IPC_SYNC;
  readonly text: string;
}
export const isIpcSyncEnvelope = (m: unknown): m is IpcSyncEnvelope =>
  typeof m === 'object' &&
  m !== null &&
  (m as { type?: unknown }).type === IPC_SYNC &&
  typeof (m as { text?: unknown }).text === 'string';

/**
 * The in-machine channel, serving-process side: messages go to the cluster primary over the
 * process's IPC channel (node:cluster), which hands each to every other serving process
 * (orchestrator/server/cluster-primary.ts). Connected while the channel to the primary is open.
 */
export function createIpcTransport(channel: NodeJS.Process = process): SyncTransport {
  const statusHandlers: ((connected: boolean) => void)[] = [];
  let closed = false;
  channel.once('disconnect', () => {
    for (const h of statusHandlers) h(false);
  });
  return {
    name: 'ipc',
    get connected() {
      return !closed && channel.connected === true;
    },
    publish(text) {
      if (closed || !channel.connected || !channel.send) return;
      const envelope: IpcSyncEnvelope = { type: IPC_SYNC, text };
      channel.send(envelope);
    },
    onMessage(handler) {
      channel.on('message', (m: unknown) => {
        if (!closed && isIpcSyncEnvelope(m)) handler(m.text);
      });
    },
    onStatus(handler) {
      statusHandlers.push(handler);
    },
    async close() {
      closed = true;
    },
  };
}
