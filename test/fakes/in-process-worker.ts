import { parseConfig } from '../../common/config/index.ts';
import { silentLogger } from '../../common/log.ts';
import { startWorker, type RunningWorker } from '../../workers/process/index.ts';

/**
 * A Tandem worker (simulated engine) started in this process on 127.0.0.1, every port chosen by
 * the OS, KV events off; `worker` sets more of the config's `worker` section (`time_scale`, say).
 * The caller closes it.
 */
export async function startInProcessWorker(worker: Record<string, unknown> = {}): Promise<RunningWorker> {
  const config = parseConfig({
    worker: {
      host: '127.0.0.1',
      grpc_port: 0,
      http_port: 0,
      kv_events_port: 0,
      replay_port: 0,
      enable_kv_cache_events: false,
      ...worker,
    },
  });
  if (!config.ok) throw config.error;
  return startWorker({ config: config.value.worker, logger: silentLogger });
}
