import {
  createKvEventPublisher,
  type KvEventPublisher,
  type KvEventPublisherOptions,
} from '../../workers/kv-events/index.ts';

/**
 * A real KV-event publisher on loopback, its PUB and replay sockets on ports the OS picks (read
 * them back from the publisher), topic "kv-events"; `options` override any of these. Its close
 * goes onto `closers`, which the test runs after each test.
 */
export async function startLoopbackPublisher(
  closers: (() => unknown)[],
  options: Partial<KvEventPublisherOptions> = {},
): Promise<KvEventPublisher> {
  const publisher = await createKvEventPublisher({
    endpoint: 'tcp://127.0.0.1:0',
    replayEndpoint: 'tcp://127.0.0.1:0',
    topic: 'kv-events',
    ...options,
  });
  closers.push(() => publisher.close());
  return publisher;
}
