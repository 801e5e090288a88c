import type { VirtualClock } from '../../common/clock.ts';
import type { LoadBook } from '../../orchestrator/load/index.ts';
import type { Decision, Planner, PoolObservation } from '../../planner/index.ts';
import type { ReplicaPoint } from '../report/index.ts';
import type { SimFleet, SimWorker } from './fleet.ts';
import type { IntervalStats } from './interval-stats.ts';

/**
 * The planner in the loop: every interval the simulated orchestrator's observation goes to the
 * real planner (`createPlanner`), and its decision is applied to the fleet: a pool that must
 * grow takes back draining workers first, then starts new ones (routable after the start-up
 * delay, paid for from the start); a pool that must shrink cancels starting workers first,
 * then drains the up workers carrying the fewest requests. The `auto` threshold follows the
 * planner's recommendation. Pool names are the roles: `prefill` and `decode`.
 */
export interface PlannerLoop {
  /** Observes the interval that just ended, decides, applies. */
  tick(): Decision;
  /** Up prefill and decode workers over time, one point per change. */
  readonly series: readonly ReplicaPoint[];
  /** Called by the fleet on every change. */
  recordReplicas(): void;
}

export interface PlannerLoopOptions {
  readonly clock: VirtualClock;
  readonly fleet: SimFleet;
  readonly load: LoadBook;
  readonly planner: Planner;
  readonly intervals: IntervalStats;
  /** Where the planner's `auto` threshold goes (the dispatcher's). */
  readonly disagg: { setThresholdTokens(tokens: number): void };
  readonly intervalS: number;
  readonly startupMs: number;
}

const ROLES = ['prefill', 'decode'] as const;

export function createPlannerLoop(options: PlannerLoopOptions): PlannerLoop {
  const { clock, fleet, load, planner, intervals, disagg } = options;
  const series: ReplicaPoint[] = [];

  const poolObservation = (role: 'prefill' | 'decode'): PoolObservation => {
    let inflightRequests = 0;
    let queuedPrefillTokens = 0;
    let activeKvBlocks = 0;
    let replicas = 0;
    const now = clock.now();
    for (const w of fleet.all) {
      if (w.role !== role || w.state !== 'up') continue;
      replicas++;
      const l = load.load(w.id, now);
      inflightRequests += l.inflightRequests;
      queuedPrefillTokens += l.queuedPrefillTokens;
      activeKvBlocks += l.activeDecodeBlocks;
    }
    return { replicas, inflightRequests, queuedPrefillTokens, activeKvBlocks };
  };

  const resize = (role: 'prefill' | 'decode', target: number) => {
    const members = fleet.all.filter((w) => w.role === role && w.state !== 'gone');
    const active = members.filter((w) => w.state === 'up' || w.state === 'starting');
    let diff = target - active.length;
    if (diff > 0) {
      for (const w of members) {
        if (diff === 0) break;
        if (w.state === 'draining') {
          fleet.undrain(w);
          diff--;
        }
      }
      for (; diff > 0; diff--) fleet.add(role, options.startupMs);
      return;
    }
    if (diff === 0) return;
    const order: SimWorker[] = [
      ...active.filter((w) => w.state === 'starting').reverse(),
      ...active
        .filter((w) => w.state === 'up')
        .sort((a, b) => a.assigned - b.assigned || b.createdAtMs - a.createdAtMs),
    ];
    for (const w of order.slice(0, -diff)) fleet.drain(w);
  };

  return {
    series,
    recordReplicas() {
      const point = {
        t_s: clock.now() / 1000,
        prefill: fleet.count('prefill', ['up']),
        decode: fleet.count('decode', ['up']),
      };
      const last = series.at(-1);
      if (last && last.prefill === point.prefill && last.decode === point.decode) return;
      if (last && last.t_s === point.t_s) series.pop();
      series.push(point);
    },
    tick() {
      const now = clock.now();
      const observation = intervals.take(now, options.intervalS, {
        prefill: poolObservation('prefill'),
        decode: poolObservation('decode'),
      });
      planner.observe(observation);
      const decision = planner.decide(now);
      for (const role of ROLES) {
        const target = decision.pools.filter((p) => p.role === role).reduce((sum, p) => sum + p.replicas, 0);
        resize(role, Math.max(1, target));
      }
      disagg.setThresholdTokens(decision.disaggregationThresholdTokens);
      return decision;
    },
  };
}
