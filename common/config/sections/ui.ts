import { z } from 'zod';

/**
 * The orchestrator's live status page (`GET /ui`) and its server-sent-events feed
 * (`GET /ui/events`): one snapshot of the fleet, the traffic and the planner every `interval_s`.
 * Like /metrics it needs no API key, and it shows no worker addresses.
 */
export const uiSection = z.strictObject({
  /** Serve /ui and /ui/events. */
  enabled: z.boolean().default(true),
  /** Seconds between snapshots pushed to every open page. */
  interval_s: z.number().min(0.1).max(60).default(1),
  /** Rates, percentiles and hit rates are computed over the last this many seconds. */
  window_s: z.number().min(1).max(3600).default(10),
  /** Snapshots kept for the charts (a page that opens gets them all): 300 x 1 s = 5 minutes. */
  history_points: z.number().int().min(2).max(10_000).default(300),
  /** Pages connected at once; more get 503 (each costs one snapshot write per interval). */
  max_clients: z.number().int().positive().default(32),
});

export type UiConfig = z.output<typeof uiSection>;
