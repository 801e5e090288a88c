import { describe, expect, it } from 'vitest';
import { hitRateUpperBound } from '../stats/hit-rate-bound.ts';
import { createWorkload, drainSource, type BenchRequest, type DrainedRequest, type RequestSource } from './index.ts';

function open(name: string, params: Record<string, unknown>, seed = 1): RequestSource {
  const workload = createWorkload(name, params, seed);
  if (!workload.ok) throw workload.error;
  return workload.value.open();
}

function takeN(source: RequestSource, n: number): BenchRequest[] {
  return Array.from({ length: n }, () => source.take()!);
}

function lcp(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const startsWith = (longer: Uint32Array, prefix: Uint32Array) => lcp(longer, prefix) === prefix.length;

describe('llmd-shared-prefix', () => {
  const requests = takeN(open('llmd-shared-prefix', {}), 1500);

  it('sends every one of the 750 users once per round, in one shuffled order', () => {
    const round1 = requests.slice(0, 750).map((r) => r.sessionKey);
    const round2 = requests.slice(750).map((r) => r.sessionKey);
    expect(new Set(round1).size).toBe(750);
    expect(round2).toEqual(round1);
    expect(round1.slice(0, 5)).not.toEqual([
      'group-0/user-0',
      'group-0/user-1',
      'group-0/user-2',
      'group-0/user-3',
      'group-0/user-4',
    ]);
  });

  it('gives a group exactly its 6,000-token system prompt in common and each user one 7,200-token prompt', () => {
    const byUser = new Map(requests.slice(0, 750).map((r) => [r.sessionKey, r.promptTokenIds]));
    for (let g = 0; g < 150; g += 7) {
      for (let u = 1; u < 5; u++)
        expect(lcp(byUser.get(`group-${g}/user-0`)!, byUser.get(`group-${g}/user-${u}`)!)).toBe(6000);
      expect(lcp(byUser.get(`group-${g}/user-0`)!, byUser.get(`group-${(g + 1) % 150}/user-0`)!)).toBe(0);
    }
    for (const r of requests.slice(750)) expect(r.promptTokenIds).toBe(byUser.get(r.sessionKey)); // the same array, not a copy
    expect(requests.every((r) => r.promptTokenIds.length === 7200 && r.maxOutputTokens === 1000)).toBe(true);
  });

  it('bounds the hit rate at 1 - (150 x 6000 + 750 x 1200) / (7200 N)', () => {
    const bound = hitRateUpperBound(
      requests.map((r) => ({ promptTokens: r.promptTokenIds.length, sharedPrefixTokens: r.sharedPrefixTokens })),
    );
    expect(bound).toBeCloseTo(1 - (150 * 6000 + 750 * 1200) / (7200 * 1500), 12);
  });

  it('arrives as a Poisson process at the rate asked for', () => {
    const arrivals = takeN(
      open('llmd-shared-prefix', { rate: 40, groups: 2, system_prompt_tokens: 10, question_tokens: 5 }),
      20_000,
    ).map((r) => r.arrivalMs);
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeGreaterThan(25 * 0.97);
    expect(mean).toBeLessThan(25 * 1.03);
    expect(sd / mean).toBeGreaterThan(0.95); // exponential: coefficient of variation 1
    expect(sd / mean).toBeLessThan(1.05);
  });
});

describe('multi-turn-chat and agentic', () => {
  const chat = {
    conversations: 30,
    system_prompt_tokens: 100,
    turns_min: 3,
    turns_max: 6,
    user_tokens_min: 10,
    user_tokens_max: 30,
    output_tokens_min: 5,
    output_tokens_max: 20,
    think_time_s: 2,
    rate: 2,
  };

  function bySession(done: DrainedRequest[]): Map<string, DrainedRequest[]> {
    const sessions = new Map<string, DrainedRequest[]>();
    for (const d of done) sessions.set(d.request.sessionKey, [...(sessions.get(d.request.sessionKey) ?? []), d]);
    return sessions;
  }

  it('re-sends each turn as the previous prompt, the reply the server gave, and a new user message', () => {
    const done = drainSource(open('multi-turn-chat', chat), {
      maxRequests: 1000,
      serviceMs: () => 700,
      outputTokens: (r) => r.maxOutputTokens - 2,
    });
    const sessions = bySession(done);
    expect(sessions.size).toBe(30);
    for (const turns of sessions.values()) {
      expect(turns.length).toBeGreaterThanOrEqual(3);
      expect(turns.length).toBeLessThanOrEqual(6);
      for (let k = 1; k < turns.length; k++) {
        const previous = turns[k - 1]!;
        const current = turns[k]!;
        expect(startsWith(current.request.promptTokenIds, previous.request.promptTokenIds)).toBe(true);
        const added = current.request.promptTokenIds.length - previous.request.promptTokenIds.length;
        expect(added - previous.outputTokens).toBeGreaterThanOrEqual(10);
        expect(added - previous.outputTokens).toBeLessThanOrEqual(30);
        expect(current.request.arrivalMs).toBeGreaterThanOrEqual(previous.completedMs);
        expect(current.request.sharedPrefixTokens).toBe(previous.request.promptTokenIds.length);
      }
    }
    const thinks = [...sessions.values()].flatMap((turns) =>
      turns.slice(1).map((t, k) => t.request.arrivalMs - turns[k]!.completedMs),
    );
    expect(thinks.reduce((a, b) => a + b, 0) / thinks.length).toBeGreaterThan(1000); // mean 2 s, wide margin
    expect(thinks.reduce((a, b) => a + b, 0) / thinks.length).toBeLessThan(3000);
  });

  it('releases no turn before the previous one completes, and ends a conversation whose turn failed', () => {
    const source = open('multi-turn-chat', { ...chat, conversations: 1, turns_min: 4, turns_max: 4 });
    const first = source.take()!;
    expect(source.nextArrivalMs()).toBeUndefined();
    expect(source.ended()).toBe(false);
    source.complete(first.id, { atMs: first.arrivalMs + 500, ok: true, outputTokens: 7 });
    const second = source.take()!;
    expect(second.id).toBe('conv0-1');
    expect(second.promptTokenIds.length - first.promptTokenIds.length).toBeGreaterThanOrEqual(7 + 10);
    source.complete(second.id, { atMs: second.arrivalMs + 500, ok: false, outputTokens: 0 });
    expect(source.take()).toBeUndefined();
    expect(source.ended()).toBe(true);
  });

  it('ends a conversation before it would outgrow the context', () => {
    const done = drainSource(
      open('multi-turn-chat', { ...chat, turns_min: 20, turns_max: 20, max_context_tokens: 400 }),
      { maxRequests: 1000 },
    );
    for (const d of done) expect(d.request.promptTokenIds.length + d.request.maxOutputTokens).toBeLessThanOrEqual(400);
    expect(Math.max(...[...bySession(done).values()].map((turns) => turns.length))).toBeLessThan(20);
  });

  it('grows an agent context by each short tool call and a tool result, over a shared system prompt', () => {
    const params = {
      agents: 10,
      system_prompt_tokens: 3000,
      task_tokens_min: 100,
      task_tokens_max: 200,
      steps_min: 4,
      steps_max: 8,
      output_tokens_min: 20,
      output_tokens_max: 60,
      tool_result_tokens_min: 200,
      tool_result_tokens_max: 800,
    };
    const done = drainSource(open('agentic', params), { maxRequests: 1000, serviceMs: () => 300 });
    const sessions = bySession(done);
    const firsts = [...sessions.values()].map((steps) => steps[0]!.request.promptTokenIds);
    for (const other of firsts.slice(1)) expect(lcp(firsts[0]!, other)).toBe(3000);
    for (const steps of sessions.values()) {
      for (let k = 1; k < steps.length; k++) {
        const grew = steps[k]!.request.promptTokenIds.length - steps[k - 1]!.request.promptTokenIds.length;
        expect(grew).toBeGreaterThanOrEqual(steps[k - 1]!.outputTokens + 200);
        expect(grew).toBeLessThanOrEqual(steps[k - 1]!.outputTokens + 800);
      }
      for (const step of steps) expect(step.request.maxOutputTokens).toBeLessThanOrEqual(60);
    }
    const bound = hitRateUpperBound(
      done.map((d) => ({
        promptTokens: d.request.promptTokenIds.length,
        sharedPrefixTokens: d.request.sharedPrefixTokens,
      })),
    );
    expect(bound).toBeGreaterThan(0.8);
  });
});

describe('long-context-rag', () => {
  it('shares exactly the system prompt and document between questions on one document', () => {
    const requests = takeN(
      open('long-context-rag', { documents: 3, document_tokens: 2000, system_prompt_tokens: 100 }),
      60,
    );
    const doc = (r: BenchRequest) => requests.findIndex((other) => lcp(other.promptTokenIds, r.promptTokenIds) >= 2100);
    for (let i = 0; i < requests.length; i++) {
      for (let j = 0; j < i; j++) {
        const shared = lcp(requests[i]!.promptTokenIds, requests[j]!.promptTokenIds);
        expect([100, 2100]).toContain(shared);
        expect(shared === 2100).toBe(doc(requests[i]!) === doc(requests[j]!));
      }
    }
    expect(new Set(requests.map(doc)).size).toBe(3);
  });

  it('picks the first document most often under Zipf popularity', () => {
    const requests = takeN(open('long-context-rag', { documents: 4, document_tokens: 50, popularity: 'zipf' }), 3000);
    // The default 200-token system prompt is followed by the document's own first token.
    const counts = new Map<number, number>();
    for (const r of requests) counts.set(r.promptTokenIds[200]!, (counts.get(r.promptTokenIds[200]!) ?? 0) + 1);
    const shares = [...counts.values()].sort((a, b) => b - a).map((n) => n / requests.length);
    expect(shares[0]).toBeCloseTo(1 / (1 + 1 / 2 + 1 / 3 + 1 / 4), 1);
  });
});

describe('mixed-isl and diurnal', () => {
  it('blends short and long prompts in the share asked for', () => {
    const requests = takeN(open('mixed-isl', { long_share: 0.25 }), 4000);
    const long = requests.filter((r) => r.promptTokenIds.length >= 8192);
    expect(long.length / requests.length).toBeGreaterThan(0.22);
    expect(long.length / requests.length).toBeLessThan(0.28);
    for (const r of requests)
      expect(
        r.promptTokenIds.length <= 1024 || (r.promptTokenIds.length >= 8192 && r.promptTokenIds.length <= 24576),
      ).toBe(true);
    expect(requests.every((r) => r.sharedPrefixTokens === 0)).toBe(true);
  });

  it('runs slow and prefill-heavy in the trough and busy and chat-heavy at the peak', () => {
    const period = 100;
    const requests = takeN(
      open('diurnal', {
        rate: 20,
        period_s: period,
        chat_prompt_tokens_max: 500,
        long_prompt_tokens_min: 1000,
        long_prompt_tokens_max: 1500,
      }),
      8000,
    );
    const phaseOf = (r: BenchRequest) => ((r.arrivalMs / 1000) % period) / period;
    const trough = requests.filter((r) => phaseOf(r) < 0.1 || phaseOf(r) >= 0.9);
    const peak = requests.filter((r) => phaseOf(r) >= 0.4 && phaseOf(r) < 0.6);
    expect(peak.length).toBeGreaterThan(2.5 * trough.length); // rate 1.6 x 20 against 0.4 x 20, averaged over the window
    const longShare = (rs: BenchRequest[]) => rs.filter((r) => r.promptTokenIds.length >= 1000).length / rs.length;
    expect(longShare(trough)).toBeGreaterThan(0.4);
    expect(longShare(peak)).toBeLessThan(0.2);
  });
});
