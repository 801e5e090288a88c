import type { Logger } from '../../common/log.ts';
import type { KvEventEndpoint } from '../backends/index.ts';
import {
  createKvEventSubscriber,
  type KvEventSubscriber,
  type KvEventSubscriberOptions,
  type KvEventSubscriberStats,
} from '../kv-events/index.ts';
import { tenantId, type KvIndex } from '../kv-index/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';

export type SubscriberFactory = (options: KvEventSubscriberOptions) => KvEventSubscriber;

export interface KvFeedsOptions {
  readonly worker: string;
  readonly index: KvIndex;
  readonly metrics: OrchestratorMetrics;
  readonly logger: Logger;
  readonly createSubscriber?: SubscriberFactory;
}

/** One KV-event subscriber's state as /debug/workers shows it (bigints as strings). */
export interface FeedSnapshot {
  readonly tenant: string;
  readonly dpRank: number;
  readonly endpoint: string;
  readonly replayEndpoint: string | null;
  readonly topic: string;
  readonly connected: boolean;
  readonly lastSeq: string | null;
  readonly stats: Omit<KvEventSubscriberStats, 'lastSeq' | 'connected'>;
}

/**
 * The KV-event subscribers of one worker: one per data-parallel rank, each feeding its tenant
 * (`name` or `name@rank`) in the index: batches go to `applyBatch`, a reset (restart, lost
 * events) to `clearWorker`. Loud conditions the index returns (a block-size mismatch) are
 * logged at error level: the first time and every 1000th after, so a misconfigured worker
 * cannot flood the log. `sync` converges on a set of endpoints; `restart` drops every
 * subscriber and starts over (the engine restarted: its replay ring restarts with it).
 */
export interface KvFeeds {
  sync(endpoints: readonly KvEventEndpoint[]): void;
  restart(): void;
  snapshot(): FeedSnapshot[];
  close(): Promise<void>;
}

interface Feed {
  readonly key: string;
  readonly endpoint: KvEventEndpoint;
  readonly tenant: string;
  readonly subscriber: KvEventSubscriber;
  gapsSeen: number;
  errorsLogged: number;
}

const keyOf = (e: KvEventEndpoint) => `${e.dpRank}|${e.endpoint}|${e.replayEndpoint ?? ''}|${e.topic}`;

export function createKvFeeds(options: KvFeedsOptions): KvFeeds {
  const { index, metrics, logger, worker } = options;
  const create = options.createSubscriber ?? createKvEventSubscriber;
  const feeds = new Map<string, Feed>();
  const closing: Promise<void>[] = [];
  let closed = false;

  const open = (endpoint: KvEventEndpoint): Feed => {
    const tenant = tenantId(worker, endpoint.dpRank);
    const feed: Feed = {
      key: keyOf(endpoint),
      endpoint,
      tenant,
      gapsSeen: 0,
      errorsLogged: 0,
      subscriber: create({
        endpoint: endpoint.endpoint,
        ...(endpoint.replayEndpoint === undefined ? {} : { replayEndpoint: endpoint.replayEndpoint }),
        topic: endpoint.topic,
        logger,
        onBatch: (_seq, batch) => {
          const result = index.applyBatch(tenant, batch);
          for (const error of result.errors) {
            if (feed.errorsLogged++ % 1000 === 0)
              logger.error(
                { worker, tenant, code: error.code, occurrences: feed.errorsLogged },
                `KV events of ${tenant} rejected: ${error.message}`,
              );
          }
          metrics.countKvEventBatches(tenant);
          metrics.setWorkerIndexedBlocks(tenant, index.indexedBlocks(tenant));
          countGaps(feed);
        },
        onReset: (reason) => {
          index.clearWorker(tenant, `KV-event stream ${reason}`);
          metrics.setWorkerIndexedBlocks(tenant, 0);
          countGaps(feed);
        },
      }),
    };
    logger.info(
      { worker, tenant, endpoint: endpoint.endpoint, replay: endpoint.replayEndpoint ?? null },
      'subscribed to KV events',
    );
    return feed;
  };
  const countGaps = (feed: Feed) => {
    const gaps = feed.subscriber.stats().gaps;
    for (; feed.gapsSeen < gaps; feed.gapsSeen++) metrics.countKvEventGap(feed.tenant);
  };
  const drop = (feed: Feed) => {
    feeds.delete(feed.key);
    closing.push(feed.subscriber.close());
  };

  return {
    sync(endpoints) {
      if (closed) return;
      const wanted = new Map(endpoints.map((e) => [keyOf(e), e]));
      for (const feed of [...feeds.values()]) if (!wanted.has(feed.key)) drop(feed);
      for (const [key, endpoint] of wanted) if (!feeds.has(key)) feeds.set(key, open(endpoint));
    },
    restart() {
      if (closed) return;
      const endpoints = [...feeds.values()].map((f) => f.endpoint);
      for (const feed of [...feeds.values()]) drop(feed);
      for (const endpoint of endpoints) feeds.set(keyOf(endpoint), open(endpoint));
    },
    snapshot() {
      return [...feeds.values()].map((feed) => {
        const { lastSeq, connected, ...stats } = feed.subscriber.stats();
        return {
          tenant: feed.tenant,
          dpRank: feed.endpoint.dpRank,
          endpoint: feed.endpoint.endpoint,
          replayEndpoint: feed.endpoint.replayEndpoint ?? null,
          topic: feed.endpoint.topic,
          connected,
          lastSeq: lastSeq === null ? null : lastSeq.toString(),
          stats,
        };
      });
    },
    async close() {
      closed = true;
      for (const feed of [...feeds.values()]) drop(feed);
      await Promise.all(closing.splice(0));
    },
  };
}
