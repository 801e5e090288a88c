import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import type { KvIndex } from '../kv-index/index.ts';
import type { LoadBook } from '../load/index.ts';
import { decodeSyncMessage, encodeSyncMessage, type SyncDelta } from './delta.ts';
import { createSyncedBook, type SyncedBook } from './synced-book.ts';
import type { SyncTransport } from './transport.ts';

/** What replica sync reports to /metrics (orchestrator/metrics implements it). */
export interface ReplicaSyncMetrics {
  setReplicaSyncConnected(transport: string, connected: boolean): void;
  countReplicaSyncMessages(direction: 'sent' | 'received', transport: string): void;
  setReplicaSyncPeers(peers: number, remoteBookings: number): void;
}

export interface ReplicaSyncOptions {
  /** This process, unique over the fleet's life (host, pid and a random tag). */
  readonly origin: string;
  /** This machine's group of serving processes (they share it; NATS messages from it are skipped, IPC carries them). */
  readonly group: string;
  readonly load: LoadBook;
  readonly index: KvIndex;
  /** IPC first when both: a message from a sibling arrives over IPC only. */
  readonly transports: readonly SyncTransport[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: ReplicaSyncMetrics;
  /** A heartbeat goes out when nothing else did for this long, ms. */
  readonly heartbeatMs: number;
  /** A peer heard from for this long is gone: its bookings are dropped, ms. */
  readonly peerTimeoutMs: number;
}

export interface ReplicaSync {
  /** The load book and index to route with: local changes are published (the book's `observe` seam, the index's `recordRouted`), remote ones applied. */
  readonly load: LoadBook;
  readonly index: KvIndex;
  readonly book: SyncedBook;
  /** Peers heard from within the timeout. */
  peers(): { origin: string; transport: string; lastHeardMs: number; bookings: number }[];
  /** Says bye (the others drop this process's bookings at once) and closes the transports. */
  close(): Promise<void>;
}

/**
 * Shares in-flight bookings (and approximate-index inserts) with the other serving processes
 * and replicas. Deltas made in one event-loop turn leave as one message; a heartbeat keeps
 * quiet peers alive; a peer silent for `peerTimeoutMs` (crashed, partitioned, or the broker
 * down) has its bookings dropped, so each process then routes on its own bookings plus the
 * workers' reports. Every transport change is one log line and a gauge.
 */
export function createReplicaSync(options: ReplicaSyncOptions): ReplicaSync {
  const { origin, group, clock, logger, metrics } = options;
  let pending: SyncDelta[] = [];
  let flushScheduled = false;
  let seq = 0;
  let lastSentMs = 0;
  let closed = false;
  const peers = new Map<string, { transport: string; lastHeardMs: number }>();

  const send = (deltas: SyncDelta[]) => {
    const text = encodeSyncMessage({ v: 1, origin, group, seq: ++seq, deltas });
    lastSentMs = clock.now();
    for (const t of options.transports) {
      if (!t.connected) continue;
      t.publish(text);
      metrics?.countReplicaSyncMessages('sent', t.name);
    }
  };
  const flush = () => {
    flushScheduled = false;
    if (pending.length === 0) return;
    const deltas = pending;
    pending = [];
    send(deltas);
  };
  const book = createSyncedBook({
    load: options.load,
    index: options.index,
    emit(delta) {
      if (closed) return;
      pending.push(delta);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
  });

  const publishPeers = () => {
    let remote = 0;
    for (const n of book.remoteBookings().values()) remote += n;
    metrics?.setReplicaSyncPeers(peers.size, remote);
  };

  let warnedBad = false;
  for (const transport of options.transports) {
    metrics?.setReplicaSyncConnected(transport.name, transport.connected);
    transport.onStatus((connected) => {
      metrics?.setReplicaSyncConnected(transport.name, connected);
      if (connected)
        logger.info({ transport: transport.name }, `replica sync over ${transport.name} connected: sharing bookings`);
      else
        logger.warn(
          { transport: transport.name },
          `replica sync over ${transport.name} lost: routing on this process's own bookings plus worker status until it reconnects`,
        );
    });
    transport.onMessage((text) => {
      const decoded = decodeSyncMessage(text);
      if (!decoded.ok) {
        if (!warnedBad)
          logger.warn(
            { transport: transport.name, err: decoded.error.message },
            'ignoring a malformed replica-sync message (logged once)',
          );
        warnedBad = true;
        return;
      }
      const message = decoded.value;
      if (message.origin === origin) return;
      // Siblings on this machine arrive over IPC; their copies over NATS would count twice.
      if (transport.name !== 'ipc' && message.group === group) return;
      metrics?.countReplicaSyncMessages('received', transport.name);
      const now = clock.now();
      const known = peers.get(message.origin);
      if (!known) logger.info({ peer: message.origin, transport: transport.name }, 'replica-sync peer joined');
      peers.set(message.origin, { transport: transport.name, lastHeardMs: now });
      for (const delta of message.deltas) book.apply(message.origin, delta, now);
      if (message.deltas.some((d) => d.k === 'bye')) {
        peers.delete(message.origin);
        logger.info({ peer: message.origin }, 'replica-sync peer left');
      }
    });
  }

  const tickMs = Math.max(10, Math.floor(options.heartbeatMs / 2));
  let lastTickMs = clock.now();
  let cancelTick = clock.setTimer(tickMs, function tick() {
    cancelTick = clock.setTimer(tickMs, tick);
    const now = clock.now();
    // This process's own event loop stalled (a tokenizer loading, say): what it did not read
    // meanwhile says nothing about its peers, so their silence counts from now.
    if (now - lastTickMs > options.peerTimeoutMs / 2)
      for (const p of peers.values()) p.lastHeardMs = Math.max(p.lastHeardMs, now);
    lastTickMs = now;
    if (now - lastSentMs >= options.heartbeatMs) send([]);
    for (const [peer, p] of peers) {
      if (now - p.lastHeardMs < options.peerTimeoutMs) continue;
      peers.delete(peer);
      const dropped = book.dropOrigin(peer);
      logger.warn(
        { peer, silentMs: now - p.lastHeardMs, droppedBookings: dropped },
        'replica-sync peer silent: dropping its bookings',
      );
    }
    publishPeers();
  });

  return {
    load: options.load,
    index: book.index,
    book,
    peers() {
      const counts = book.remoteBookings();
      return [...peers].map(([peer, p]) => ({
        origin: peer,
        transport: p.transport,
        lastHeardMs: p.lastHeardMs,
        bookings: counts.get(peer) ?? 0,
      }));
    },
    async close() {
      if (closed) return;
      flush();
      send([{ k: 'bye' }]);
      closed = true;
      cancelTick();
      book.close();
      flushScheduled = true; // nothing more leaves
      await Promise.all(options.transports.map((t) => t.close()));
    },
  };
}
