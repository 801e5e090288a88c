import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { createFailureLog } from './failure-log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n'))
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 't', level: 'debug', format: 'json', destination }) };
}
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('failure log', () => {
  it('logs expected rejections as warnings without a stack, at most 5 a second per code, saying how many it left out', async () => {
    const { lines, logger } = capture();
    const clock = createVirtualClock();
    const log = createFailureLog(logger, clock);
    for (let i = 0; i < 100; i++)
      log.failed(`r${i}`, new TandemError('unavailable', 'every worker stayed saturated', { retryAfterS: 1 }));
    await clock.advanceAsync(1000);
    log.failed('next', new TandemError('unavailable', 'every worker stayed saturated', { retryAfterS: 1 }));
    await flush();
    expect(lines).toHaveLength(6);
    expect(lines.every((l) => l.level === 40 && l.err === undefined && l.stack === undefined)).toBe(true);
    expect(lines[5]).toMatchObject({
      requestId: 'next',
      suppressed: 95,
      msg: 'every worker stayed saturated (and 95 more like it not logged)',
    });
  });

  it('keeps the cause and its stack for faults, and client errors at debug', async () => {
    const { lines, logger } = capture();
    const log = createFailureLog(logger, createVirtualClock());
    log.failed('a', new TandemError('internal', 'internal server error', { cause: new RangeError('bug') }));
    log.failed('b', new TandemError('invalid_request', 'bad field'));
    await flush();
    expect(lines[0]).toMatchObject({ level: 50, requestId: 'a', err: { type: 'RangeError', message: 'bug' } });
    expect(String((lines[0]!.err as { stack: string }).stack)).toContain('RangeError: bug');
    expect(lines[1]).toMatchObject({ level: 20, requestId: 'b' });
  });

  it('lets every per-request line of a request that ran through and rate limits rejected ones', () => {
    const log = createFailureLog(createLogger({ name: 't', level: 'silent' }), createVirtualClock());
    expect(Array.from({ length: 10 }, () => log.requestLine('success'))).toEqual(Array(10).fill(0));
    expect(Array.from({ length: 7 }, () => log.requestLine('rejected'))).toEqual([0, 0, 0, 0, 0, undefined, undefined]);
  });
});
