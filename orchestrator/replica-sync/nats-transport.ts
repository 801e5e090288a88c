import { connect, Events, type NatsConnection } from 'nats';
import type { Logger } from '../../common/log.ts';
import type { SyncTransport } from './transport.ts';

export interface NatsTransportOptions {
  /** `nats://host:port` (comma-separated for a cluster). */
  readonly url: string;
  /** Every replica of one fleet publishes and subscribes here. */
  readonly subject: string;
  /** Wait between reconnection attempts, ms. */
  readonly reconnectWaitMs: number;
  readonly logger: Logger;
  /** The connection's name, as `nats-server` lists it (the process's origin). */
  readonly name: string;
}

/**
 * Replicas across machines: NATS core publish/subscribe, fire-and-forget (as Dynamo's router
 * replica sync). Never blocks start-up: it connects in the background and keeps trying for
 * ever, publishing nothing while disconnected; `noEcho` keeps a replica's own messages from
 * coming back.
 */
export function createNatsTransport(options: NatsTransportOptions): SyncTransport {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const messageHandlers: ((text: string) => void)[] = [];
  const statusHandlers: ((connected: boolean) => void)[] = [];
  let nc: NatsConnection | undefined;
  let connected = false;
  let closed = false;
  const setConnected = (next: boolean) => {
    if (next === connected) return;
    connected = next;
    for (const h of statusHandlers) h(next);
  };
  const servers = options.url.split(',').map((s) => s.trim());
  const notYet = setTimeout(() => {
    if (!connected && !closed)
      options.logger.warn(
        { url: options.url },
        `replica sync: NATS at ${options.url} not reachable yet: routing on this replica's own bookings plus worker status, retrying`,
      );
  }, 2000);
  notYet.unref();

  const connecting = connect({
    servers,
    name: options.name,
    noEcho: true,
    reconnect: true,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: options.reconnectWaitMs,
    pingInterval: 5000,
    maxPingOut: 2,
  })
    .then(async (conn) => {
      if (closed) {
        await conn.close();
        return;
      }
      nc = conn;
      conn.subscribe(options.subject, {
        callback: (error, msg) => {
          if (error) return;
          const text = decoder.decode(msg.data);
          for (const h of messageHandlers) h(text);
        },
      });
      setConnected(true);
      for await (const status of conn.status()) {
        if (status.type === Events.Disconnect) setConnected(false);
        else if (status.type === Events.Reconnect) setConnected(true);
      }
    })
    .catch((error: unknown) => {
      if (!closed)
        options.logger.error({ err: error, url: options.url }, 'replica sync: the NATS connection failed for good');
      setConnected(false);
    });

  return {
    name: 'nats',
    get connected() {
      return connected;
    },
    publish(text) {
      if (!connected || !nc || nc.isClosed()) return;
      try {
        nc.publish(options.subject, encoder.encode(text));
      } catch {
        // Disconnected between the check and the publish: fire-and-forget.
      }
    },
    onMessage(handler) {
      messageHandlers.push(handler);
    },
    onStatus(handler) {
      statusHandlers.push(handler);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(notYet);
      if (nc) {
        await nc.drain().catch(() => nc?.close());
      }
      // A connect still retrying resolves or fails on its own; the `closed` flag discards it.
      void connecting;
      setConnected(false);
    },
  };
}
