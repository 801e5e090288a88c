import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The Grafana dashboard shows what the status page shows, from the tandem_* metrics: for every
 * figure on /ui, a panel whose query reads the series the page's figure comes from.
 */

const dashboard = JSON.parse(
  readFileSync(new URL('../deploy/grafana/tandem-dashboard.json', import.meta.url), 'utf8'),
) as {
  panels: { title: string; targets?: { expr: string }[] }[];
};
const queries = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ title: panel.title, expr: target.expr })),
);

/** Page figure -> what a dashboard query must contain to show it. */
const PAGE_FIGURES: Record<string, RegExp> = {
  'request rate': /rate\(tandem_requests_total\[/,
  'errors (requests by outcome)': /sum by \(outcome\) \(rate\(tandem_requests_total/,
  'output tokens/s': /rate\(tandem_generation_tokens_total/,
  'TTFT p50/p90/p99':
    /histogram_quantile\(0\.(5|9|99), sum by \(le\) \(rate\(tandem_time_to_first_token_seconds_bucket/,
  'ITL p50/p90/p99': /histogram_quantile\(0\.(5|9|99), sum by \(le\) \(rate\(tandem_inter_token_latency_seconds_bucket/,
  'prefix-cache hit rate':
    /rate\(tandem_cached_prompt_tokens_total\[[^\]]+\]\)\) \/ sum\(rate\(tandem_prompt_tokens_total/,
  'share disaggregated': /tandem_requests_total\{mode="disaggregated"\}/,
  'queued requests': /tandem_queue_depth/,
  'worker health by role': /tandem_worker_healthy/,
  'running requests per worker': /tandem_worker_running_requests/,
  'waiting requests per worker': /tandem_worker_waiting_requests/,
  'KV usage per worker': /tandem_worker_kv_usage/,
  'cached blocks per worker': /tandem_worker_indexed_blocks/,
  'in-flight requests (router)': /tandem_worker_inflight_requests/,
  "planner's P:D": /tandem_planner_desired_replicas/,
  "planner's threshold": /tandem_planner_disaggregation_threshold_tokens/,
  "planner's predicted load": /tandem_planner_predicted_request_rate/,
};

describe('the Grafana dashboard', () => {
  it.each(Object.entries(PAGE_FIGURES))("shows the page's %s", (_figure, pattern) => {
    expect(queries.filter((query) => pattern.test(query.expr)).map((query) => query.title)).not.toEqual([]);
  });

  it('plots the P:D ratio of the fleet and of the planner on one panel, as the page does', () => {
    const panel = dashboard.panels.find(
      (p) =>
        (p.targets ?? []).some((t) => t.expr.includes('tandem_worker_healthy')) &&
        (p.targets ?? []).some((t) => t.expr.includes('tandem_planner_desired_replicas')),
    );
    expect(panel?.title).toMatch(/P:D/);
  });
});
