import type { ModeLabel, RequestOutcome } from '../metrics/index.ts';
import type { RouteSummary, Usage } from '../serving.ts';

/**
 * The one log line every request gets when it ends (info level): JSON fields for machines, and
 * a message that reads on its own for people (the terminal formats of common/log and `tandem up`
 * print the message first). Times are milliseconds, counts are tokens.
 */
export interface RequestLogFields {
  readonly requestId: string;
  readonly outcome: RequestOutcome;
  readonly mode: ModeLabel;
  /** Routing tenants that served it ([worker], or [prefill, decode]); empty when it never ran. */
  readonly workers: readonly string[];
  /** Prompt tokens the router expected the (first) worker to hold already; null when it never ran. */
  readonly overlapTokens: number | null;
  /** From arrival to the first token; null when no token came. */
  readonly ttftMs: number | null;
  /** Of which waiting in the admission queue for a worker with room; null when it never ran or the core does not queue. */
  readonly queuedMs: number | null;
  readonly e2eMs: number;
  readonly promptTokens: number | null;
  readonly cachedTokens: number | null;
  readonly completionTokens: number;
}

export interface RequestLogEntry {
  readonly requestId: string;
  readonly outcome: RequestOutcome;
  readonly mode: ModeLabel;
  readonly arrivalMs: number;
  readonly firstTokenMs: number | undefined;
  readonly endMs: number;
  /** Tokens received, counted as they arrived (usage may be missing on failures). */
  readonly tokensSeen: number;
  readonly usage: Usage | undefined;
  readonly route: RouteSummary | undefined;
}

export function requestLogLine(end: RequestLogEntry): { fields: RequestLogFields; message: string } {
  const ms = (value: number) => Math.round(value * 10) / 10;
  const fields: RequestLogFields = {
    requestId: end.requestId,
    outcome: end.outcome,
    mode: end.mode,
    workers: end.route?.workers ?? [],
    overlapTokens: end.route?.overlapTokens ?? null,
    ttftMs: end.firstTokenMs === undefined ? null : ms(end.firstTokenMs - end.arrivalMs),
    queuedMs: end.route?.queuedMs === undefined ? null : ms(end.route.queuedMs),
    e2eMs: ms(end.endMs - end.arrivalMs),
    promptTokens: end.usage?.promptTokens ?? null,
    cachedTokens: end.usage?.cachedPromptTokens ?? null,
    completionTokens: end.usage?.completionTokens ?? end.tokensSeen,
  };
  const where = fields.workers.length > 0 ? ` on ${fields.workers.join(' -> ')}` : '';
  const overlap = fields.overlapTokens === null ? '' : `, overlap ${fields.overlapTokens}`;
  const queued = fields.queuedMs ? ` (${fields.queuedMs} ms queued)` : '';
  const ttft = fields.ttftMs === null ? '' : `, ttft ${fields.ttftMs} ms${queued}`;
  const prompt =
    fields.promptTokens === null ? '' : `${fields.promptTokens} prompt (${fields.cachedTokens ?? 0} cached) + `;
  const message = `request ${fields.requestId} ${fields.outcome} ${fields.mode}${where}${overlap}${ttft}, ${prompt}${fields.completionTokens} out, ${fields.e2eMs} ms`;
  return { fields, message };
}
