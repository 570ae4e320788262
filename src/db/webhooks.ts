// What the webhook destinations are doing, for /v1/stats and /metrics: the records whose calls
// failed and that still try (or are blocked by the endpoint's answer), and the destinations a 410
// disabled. Both read only open work (webhook_attempts) or a partial index.
import type { Pool } from './pool';

export interface WebhookFailure {
  sourceId: string;
  seq: number;
  attempts: number;
  lastStatus: number | null;
  lastError: string;
  lastAt: string;
  /** null: the record is blocked by the answer (a 4xx), no call is due. */
  nextAttemptAt: string | null;
}

export interface WebhookView {
  /** Records whose calls failed and that try again. */
  retrying: number;
  /** Records blocked by the endpoint's answer (a 4xx other than 408, 410, 429). */
  refused: number;
  /** Failed calls of those records, together. */
  failedAttempts: number;
  /** The most recent failures, newest first (at most `limit`). */
  recent: WebhookFailure[];
  disabledTotal: number;
  disabled: { sourceId: string; disabledAt: string; reason: string }[];
}

/** A `webhook_attempts` row as read (timestamps as Date, or as text from JSON). */
export interface AttemptRow {
  attempts: number;
  last_status: number | null;
  last_error: string;
  last_at: Date | string;
  next_attempt_at: Date | string | null;
}

/** A record's failed calls as the API shows them (in /v1/stats and the record view). */
export function attemptView(r: AttemptRow): Omit<WebhookFailure, 'sourceId' | 'seq'> {
  return {
    attempts: r.attempts,
    lastStatus: r.last_status,
    lastError: r.last_error,
    lastAt: new Date(r.last_at).toISOString(),
    nextAttemptAt: r.next_attempt_at === null ? null : new Date(r.next_attempt_at).toISOString(),
  };
}

export async function webhookView(pool: Pool, limit = 10): Promise<WebhookView> {
  const [totals, recent, disabled] = await Promise.all([
    pool.query<{ retrying: number; refused: number; attempts: number; disabled: number }>(
      `SELECT count(*) FILTER (WHERE next_attempt_at IS NOT NULL)::int AS retrying,
              count(*) FILTER (WHERE next_attempt_at IS NULL)::int AS refused,
              coalesce(sum(attempts), 0)::int AS attempts,
              (SELECT count(*)::int FROM sources WHERE destination ? 'disabledAt') AS disabled
         FROM webhook_attempts`,
    ),
    pool.query<AttemptRow & { source_id: string; seq: string }>(
      'SELECT source_id, seq, attempts, last_status, last_error, last_at, next_attempt_at FROM webhook_attempts ORDER BY last_at DESC LIMIT $1',
      [limit],
    ),
    pool.query<{ source_id: string; at: string; reason: string }>(
      `SELECT source_id, destination->>'disabledAt' AS at, destination->>'disabledReason' AS reason
         FROM sources WHERE destination ? 'disabledAt' ORDER BY source_id LIMIT $1`,
      [limit],
    ),
  ]);
  const t = totals.rows[0];
  return {
    retrying: t.retrying,
    refused: t.refused,
    failedAttempts: t.attempts,
    recent: recent.rows.map((r) => ({ sourceId: r.source_id, seq: Number(r.seq), ...attemptView(r) })),
    disabledTotal: t.disabled,
    disabled: disabled.rows.map((r) => ({ sourceId: r.source_id, disabledAt: new Date(r.at).toISOString(), reason: r.reason })),
  };
}
