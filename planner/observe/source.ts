import type { Observation } from '../types.ts';

/** Where observations come from, behind one interface (scrape, Prometheus, push). */
export interface ObservationSource {
  /**
   * The observation for the interval that ends now, or undefined when there is not enough to
   * say yet (a scrape source's first scrape is only a baseline). Rejects on I/O failure.
   */
  collect(signal?: AbortSignal): Promise<Observation | undefined>;
}

/** A source fed by hand (the cluster simulator, tests): `push` queues, `collect` takes the latest. */
export interface PushSource extends ObservationSource {
  push(observation: Observation): void;
}

export function createPushSource(): PushSource {
  let pending: Observation | undefined;
  return {
    push(observation) {
      pending = observation;
    },
    async collect() {
      const out = pending;
      pending = undefined;
      return out;
    },
  };
}
