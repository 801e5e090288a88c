/**
 * How sync messages travel: the serving processes of one machine (cluster IPC, `ipc-transport.ts`)
 * or replicas on several (NATS core, `nats-transport.ts`). Fire-and-forget: a message lost while
 * a transport is down is not replayed; bookings converge through `touch` deltas, expiry and the
 * workers' own status reports.
 */
export interface SyncTransport {
  /** `ipc` or `nats`: the metric label and log name. */
  readonly name: string;
  /** Sends one encoded message to every other process; dropped silently while disconnected. */
  publish(text: string): void;
  /** Receives every encoded message from the others (never its own). */
  onMessage(handler: (text: string) => void): void;
  /** Whether messages flow now (connected to NATS; IPC: the channel to the primary is open). */
  readonly connected: boolean;
  /** Called on every change of `connected`. */
  onStatus(handler: (connected: boolean) => void): void;
  close(): Promise<void>;
}
