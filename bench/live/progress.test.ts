import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { createProgressDisplay } from './progress.ts';

function sink(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  const stream = {
    isTTY,
    ...(columns === undefined ? {} : { columns }),
    write: (chunk: string) => (writes.push(chunk), true),
  } as unknown as NodeJS.WritableStream & { isTTY: boolean };
  return { stream, writes };
}

describe('progress', () => {
  it('redraws one line in place on a terminal, at most ten times a second, with a bar', () => {
    const clock = createVirtualClock();
    const { stream, writes } = sink(true, 0);
    const progress = createProgressDisplay({ stream, clock, label: 'chat @ 4 req/s', totalRequests: 100 });
    for (let i = 1; i <= 50; i++) {
      clock.advance(10);
      progress.update({ sent: i, completed: i, failed: 0 }, 3, 42);
    }
    expect(writes.length).toBeGreaterThanOrEqual(4);
    expect(writes.length).toBeLessThanOrEqual(6); // 500 ms of updates every 10 ms
    for (const w of writes) expect(w.startsWith('\r\x1b[2K')).toBe(true);
    expect(writes.at(-1)).toMatch(
      /chat @ 4 req\/s \[#{10}\.{14}\] 41\/100 done, 0 failed, 3 in flight, .* TTFT p50 42\.0 ms/,
    );
    progress.done({ sent: 100, completed: 99, failed: 1 }, 40);
    expect(writes.at(-1)).toMatch(/\[#{24}\] 100\/100 done, 1 failed.*\n$/);
  });

  it('prints plain lines elsewhere: at every tenth of the run or every few seconds, never in place', () => {
    const clock = createVirtualClock();
    const { stream, writes } = sink(false);
    const progress = createProgressDisplay({ stream, clock, label: 'rag', durationMs: 100_000, lineEveryMs: 30_000 });
    for (let t = 1; t <= 100; t++) {
      clock.advance(1000);
      progress.update({ sent: t, completed: t, failed: 0 }, 1, null);
    }
    expect(writes).toHaveLength(11); // the first update, then one per tenth; the 30 s rule never comes first
    for (const w of writes) {
      expect(w.endsWith('\n')).toBe(true);
      expect(w).not.toContain('\r');
    }
    expect(writes[0]).toMatch(/^rag 1 done, 0 failed, 1 in flight, 1\.0 req\/s, TTFT p50 - ms, 1 s\n$/);
    expect(writes[1]).toMatch(/^rag 10 done, .* 10 s\n$/);
  });
});
