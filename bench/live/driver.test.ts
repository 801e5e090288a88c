import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../common/clock.ts';
import type { RequestRecord } from '../stats/recorder.ts';
import { createWorkload } from '../workloads/registry.ts';
import type { BenchRequest, RequestSource } from '../workloads/types.ts';
import type { StreamMeasurement } from './completion-request.ts';
import { drive, type DriveOptions, type DriveResult } from './driver.ts';

function source(name: string, params: Record<string, unknown>): RequestSource {
  const workload = createWorkload(name, params, 1);
  if (!workload.ok) throw workload.error;
  return workload.value.open();
}

/** A server on the virtual clock: first token after 100 ms, then `tokens - 1` tokens 10 ms apart. */
function fakeSend(clock: VirtualClock, log: { inFlight: number; maxInFlight: number }, tokens = 5) {
  return async (request: BenchRequest, signal: AbortSignal): Promise<StreamMeasurement> => {
    const sentAt = clock.now();
    log.inFlight++;
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
    try {
      await clock.sleep(100 + 10 * (tokens - 1), signal);
      return {
        ok: true,
        sentAt,
        firstTokenAt: sentAt + 100,
        lastTokenAt: clock.now(),
        endAt: clock.now(),
        gapsMs: Array(tokens - 1).fill(10),
        outputTokens: tokens,
        promptTokens: request.promptTokenIds.length,
      };
    } catch {
      return { ok: false, failure: 'cancelled', sentAt, endAt: clock.now(), gapsMs: [], outputTokens: 0 };
    } finally {
      log.inFlight--;
    }
  };
}

async function run(
  clock: VirtualClock,
  options: Omit<DriveOptions, 'clock' | 'onOutcome'>,
): Promise<{ result: DriveResult; outcomes: RequestRecord[] }> {
  const outcomes: RequestRecord[] = [];
  let result: DriveResult | undefined;
  void drive({ ...options, clock, onOutcome: (o) => outcomes.push(o) }).then((r) => (result = r));
  for (let i = 0; i < 100_000 && !result; i++)
    await clock.advanceAsync(clock.nextTimerAt() === undefined ? 0 : clock.nextTimerAt()! - clock.now());
  if (!result) throw new Error('drive did not finish');
  return { result, outcomes };
}

describe('driver', () => {
  it('sends each request of an open loop exactly when due, however many are in flight', async () => {
    const clock = createVirtualClock();
    const log = { inFlight: 0, maxInFlight: 0 };
    const expected = source('mixed-isl', { rate: 50 });
    const arrivals = Array.from({ length: 40 }, () => expected.take()!.arrivalMs);
    const { result, outcomes } = await run(clock, {
      source: source('mixed-isl', { rate: 50 }),
      send: fakeSend(clock, log),
      respectArrivals: true,
      maxInFlight: Infinity,
      maxRequests: 40,
      durationMs: Infinity,
    });
    expect(result).toMatchObject({ sent: 40, stoppedBy: 'requests' });
    expect(outcomes.map((o) => o.sentMs).sort((a, b) => a - b)).toEqual(arrivals);
    expect(outcomes.every((o) => o.sentMs === o.arrivalMs)).toBe(true);
    expect(log.maxInFlight).toBeGreaterThan(1); // 140 ms requests at 50/s overlap
    expect(result.durationMs).toBe(arrivals.at(-1)! + 140);
  });

  it('keeps a closed loop at its concurrency, never above, ignoring arrival times', async () => {
    const clock = createVirtualClock();
    const log = { inFlight: 0, maxInFlight: 0 };
    const { result, outcomes } = await run(clock, {
      source: source('mixed-isl', { rate: 0.01 }),
      send: fakeSend(clock, log),
      respectArrivals: false,
      maxInFlight: 3,
      maxRequests: 30,
      durationMs: Infinity,
    });
    expect(result.sent).toBe(30);
    expect(log.maxInFlight).toBe(3);
    expect(result.durationMs).toBe(10 * 140); // 30 requests, 3 at a time, 140 ms each
    expect(outcomes.every((o) => o.arrivalMs === undefined)).toBe(true);
  });

  it('feeds completions back, so a conversation sends its next turn only after the previous one ended', async () => {
    const clock = createVirtualClock();
    const log = { inFlight: 0, maxInFlight: 0 };
    const params = {
      conversations: 5,
      turns_min: 3,
      turns_max: 3,
      think_time_s: 0.5,
      rate: 5,
      system_prompt_tokens: 10,
      user_tokens_min: 5,
      user_tokens_max: 10,
      output_tokens_min: 5,
      output_tokens_max: 5,
    };
    const { result, outcomes } = await run(clock, {
      source: source('multi-turn-chat', params),
      send: fakeSend(clock, log),
      respectArrivals: true,
      maxInFlight: Infinity,
      maxRequests: Infinity,
      durationMs: Infinity,
    });
    expect(result).toMatchObject({ sent: 15, stoppedBy: 'exhausted' });
    for (let c = 0; c < 5; c++) {
      for (let t = 1; t < 3; t++) {
        const previous = outcomes.find((o) => o.id === `conv${c}-${t - 1}`)!;
        const current = outcomes.find((o) => o.id === `conv${c}-${t}`)!;
        expect(current.sentMs).toBeGreaterThanOrEqual(previous.endMs);
        expect(current.sentMs).toBe(current.arrivalMs);
      }
    }
  });

  it('stops issuing at the duration and waits for what is in flight', async () => {
    const clock = createVirtualClock();
    const log = { inFlight: 0, maxInFlight: 0 };
    const { result, outcomes } = await run(clock, {
      source: source('mixed-isl', { rate: 20 }),
      send: fakeSend(clock, log),
      respectArrivals: true,
      maxInFlight: Infinity,
      maxRequests: Infinity,
      durationMs: 2000,
    });
    expect(result.stoppedBy).toBe('duration');
    expect(outcomes.every((o) => o.sentMs < 2000)).toBe(true);
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.every((o) => o.ok)).toBe(true);
  });

  it('records a send that throws as a failure and carries on', async () => {
    const clock = createVirtualClock();
    const log = { inFlight: 0, maxInFlight: 0 };
    const ok = fakeSend(clock, log);
    let n = 0;
    const { result, outcomes } = await run(clock, {
      source: source('mixed-isl', { rate: 20 }),
      send: (request, signal) => (n++ % 4 === 1 ? Promise.reject(new Error('boom')) : ok(request, signal)),
      respectArrivals: false,
      maxInFlight: 2,
      maxRequests: 12,
      durationMs: Infinity,
    });
    expect(result.sent).toBe(12);
    expect(outcomes.filter((o) => !o.ok).map((o) => o.failure)).toEqual([
      'client_error',
      'client_error',
      'client_error',
    ]);
  });

  it('stops issuing and cancels what is in flight when aborted', async () => {
    const clock = createVirtualClock();
    const log = { inFlight: 0, maxInFlight: 0 };
    const stop = new AbortController();
    clock.setTimer(1000, () => stop.abort());
    const { result, outcomes } = await run(clock, {
      source: source('mixed-isl', { rate: 20 }),
      send: fakeSend(clock, log, 200),
      respectArrivals: true,
      maxInFlight: Infinity,
      maxRequests: Infinity,
      durationMs: Infinity,
      signal: stop.signal,
    });
    expect(result.stoppedBy).toBe('aborted');
    expect(outcomes.length).toBe(result.sent);
    expect(outcomes.every((o) => o.failure === 'cancelled' && o.endMs === 1000)).toBe(true);
  });
});
