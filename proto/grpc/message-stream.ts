import { status, type Client, type Deadline, type Metadata, type StatusObject } from '@grpc/grpc-js';
import { RpcError } from './rpc-error.ts';

/**
 * A server stream's messages as they arrive: iterate them one by one (`for await`), or take
 * every message already received in one `nextBatch()`. Breaking out of a `for await`, `return()`
 * and `cancel()` cancel the call. Failures reject with an `RpcError`, after the messages that
 * arrived before the failure have been taken.
 */
export interface MessageStream<T> extends AsyncIterableIterator<T> {
  /**
   * Every message received and not yet taken (at least one), waiting for the next when none is;
   * `[]` once the stream has ended cleanly.
   */
  nextBatch(): Promise<T[]>;
  /** Cancels the call (CANCELLED); a no-op once it ended. */
  cancel(): void;
}

/** Messages buffered before the call stops asking the server for more (HTTP/2 flow control does the rest). */
const HIGH_WATER_MESSAGES = 64;

export interface ServerStreamCall {
  /** The client's channel (connection management, name resolution and retries stay grpc-js's). */
  readonly channel: ReturnType<Client['getChannel']>;
  readonly path: string;
  readonly request: Buffer;
  readonly deadline: Deadline;
  readonly metadata: Metadata;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly signal: AbortSignal | undefined;
}

/**
 * Opens a server-streaming (or unary-request, streaming-response) call on grpc-js's channel
 * directly, below its Readable-stream client API: each message is deserialized into a plain
 * queue on arrival, and a consumer waiting on the queue resumes once per batch of arrivals, not
 * once per message through stream and async-generator machinery. Same wire, same statuses.
 */
export function openServerStream<T>(options: ServerStreamCall): MessageStream<T> {
  const call = options.channel.createCall(options.path, options.deadline, undefined, null, undefined);
  let queue: T[] = [];
  let failure: RpcError | undefined;
  let ended = false;
  let reading = true;
  let waiter: { resolve: (batch: T[]) => void; reject: (error: RpcError) => void } | undefined;

  const settle = () => {
    const w = waiter;
    if (w === undefined) return;
    if (queue.length > 0) {
      waiter = undefined;
      w.resolve(take());
    } else if (failure !== undefined) {
      waiter = undefined;
      w.reject(failure);
    } else if (ended) {
      waiter = undefined;
      w.resolve([]);
    }
  };
  const take = (): T[] => {
    const batch = queue;
    queue = [];
    if (!reading && !ended) {
      reading = true;
      call.startRead();
    }
    return batch;
  };
  const onAbort = () => call.cancelWithStatus(status.CANCELLED, 'Cancelled on client');
  const finish = (error: RpcError | undefined) => {
    if (ended) return;
    ended = true;
    failure = error;
    options.signal?.removeEventListener('abort', onAbort);
    settle();
  };

  call.start(options.metadata, {
    onReceiveMetadata: () => {},
    onReceiveMessage(bytes: Buffer) {
      if (ended) return;
      let message: T;
      try {
        message = options.deserialize(bytes) as T;
      } catch (error) {
        call.cancelWithStatus(status.INTERNAL, `response message parsing error: ${(error as Error).message}`);
        return;
      }
      queue.push(message);
      if (queue.length < HIGH_WATER_MESSAGES) call.startRead();
      else reading = false;
      settle();
    },
    onReceiveStatus(result: StatusObject) {
      finish(result.code === status.OK ? undefined : new RpcError(result.code, result.details || status[result.code] || 'RPC failed'));
    },
  });
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  call.sendMessageWithContext({}, options.request);
  call.halfClose();
  call.startRead();

  const cancel = () => {
    if (ended) return;
    call.cancelWithStatus(status.CANCELLED, 'Cancelled on client');
    finish(new RpcError(status.CANCELLED, 'Cancelled on client'));
  };
  const nextBatch = (): Promise<T[]> => {
    if (queue.length > 0) return Promise.resolve(take());
    if (failure !== undefined) return Promise.reject(failure);
    if (ended) return Promise.resolve([]);
    if (waiter !== undefined) return Promise.reject(new RpcError(status.INTERNAL, 'nextBatch() called while another is pending'));
    return new Promise((resolve, reject) => (waiter = { resolve, reject }));
  };
  // One-by-one iteration over the batches.
  let pending: T[] = [];
  let at = 0;
  const stream: MessageStream<T> = {
    nextBatch,
    cancel,
    async next(): Promise<IteratorResult<T>> {
      if (at >= pending.length) {
        pending = await nextBatch();
        at = 0;
        if (pending.length === 0) return { done: true, value: undefined };
      }
      return { done: false, value: pending[at++]! };
    },
    async return(): Promise<IteratorResult<T>> {
      cancel();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
