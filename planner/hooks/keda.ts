import type { ServiceHandlers } from '../../proto/grpc/index.ts';
import { GrpcStatus, RpcError } from '../../proto/grpc/index.ts';
import type { ExternalScaler, ScaledObjectRef } from '../../proto/gen/third_party/keda/externalscaler_pb.ts';
import type { DecisionBoard } from './board.ts';

/** The metric a ScaledObject's trigger for `pool` reports (KEDA prefixes it with "s<index>-"). */
export const kedaMetricName = (pool: string) => `tandem-planner-${pool}`;

/**
 * KEDA's externalscaler.ExternalScaler over the decision board. A ScaledObject names its pool in
 * the trigger metadata (`pool: decode-h100`); GetMetricSpec answers a target of 1 and GetMetrics
 * the desired replicas, so the HPA KEDA builds (AverageValue 1) asks for exactly that many.
 * IsActive is true while the pool is wanted at all (> 0 replicas); StreamIsActive pushes the
 * current answer, then every change, until KEDA hangs up.
 */
export function createKedaHandlers(
  board: DecisionBoard,
  knownPools: readonly string[],
): ServiceHandlers<typeof ExternalScaler> {
  const poolOf = (ref: ScaledObjectRef | undefined): string => {
    const pool = ref?.scalerMetadata.pool;
    if (!pool)
      throw new RpcError(
        GrpcStatus.INVALID_ARGUMENT,
        `trigger metadata must name a pool (known: ${knownPools.join(', ')})`,
      );
    if (!knownPools.includes(pool))
      throw new RpcError(GrpcStatus.NOT_FOUND, `unknown pool "${pool}" (known: ${knownPools.join(', ')})`);
    return pool;
  };
  const desired = (pool: string): number => {
    const replicas = board.desired(pool);
    if (replicas === undefined) throw new RpcError(GrpcStatus.UNAVAILABLE, 'the planner has not decided yet');
    return replicas;
  };
  return {
    async isActive(ref) {
      return { result: desired(poolOf(ref)) > 0 };
    },
    async *streamIsActive(ref, context) {
      const pool = poolOf(ref);
      const changes: boolean[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = board.subscribe(() => {
        const replicas = board.desired(pool);
        if (replicas === undefined) return;
        changes.push(replicas > 0);
        wake?.();
      });
      const aborted = new Promise<void>((resolve) =>
        context.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      try {
        const initial = board.desired(pool);
        let last = initial === undefined ? undefined : initial > 0;
        if (last !== undefined) yield { result: last };
        while (!context.signal.aborted) {
          if (changes.length === 0) await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
          wake = undefined;
          for (const active of changes.splice(0)) {
            if (active === last) continue;
            last = active;
            yield { result: active };
          }
        }
      } finally {
        unsubscribe();
      }
    },
    async getMetricSpec(ref) {
      const pool = poolOf(ref);
      return { metricSpecs: [{ metricName: kedaMetricName(pool), targetSize: 1n, targetSizeFloat: 1 }] };
    },
    async getMetrics(request) {
      const pool = poolOf(request.scaledObjectRef);
      const replicas = desired(pool);
      return {
        metricValues: [
          {
            metricName: request.metricName || kedaMetricName(pool),
            metricValue: BigInt(replicas),
            metricValueFloat: replicas,
          },
        ],
      };
    },
    // biome-ignore lint/correctness/useYield: the service definition wants a stream; this one refuses at once.
    async *streamMetricSpec() {
      throw new RpcError(
        GrpcStatus.UNIMPLEMENTED,
        'StreamMetricSpec is not implemented; KEDA falls back to GetMetricSpec',
      );
    },
  };
}
