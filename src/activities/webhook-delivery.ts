// The outbound stage for a source with a webhook destination: the call is made inside the stage's
// transaction, after the fence and the gate are checked under their locks and before the delivery
// is written, so record n+1 is never sent before n was acknowledged and a fenced region never sends.
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType, RecordRejectedError } from '../contracts/failures';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import type { WebhookDestination } from '../destinations/destination';
import { sendWebhook, type WebhookAnswer } from '../destinations/webhook';
import { connectLookup, REFUSED_ADDRESS, refusedUrl } from '../destinations/callable';
import type { JsonObject } from '../stages/work';
import { activityTimeoutMs } from './activity-timeout';
import type { DeferredCall } from './stage-write';

export interface WebhookSettings {
  /** At most this long per call (and at most 80 % of the activity's own timeout). */
  timeoutMs: number;
  /** Backoff between failed calls: 1 s, doubling, up to this. */
  maxBackoffMs: number;
  /** WEBHOOK_ALLOWED_HOSTS, parsed: the URL is checked against it again at each call. */
  allowedHosts: readonly string[];
  /**
   * The calls' own connections: each call holds one for its duration (its transaction keeps the
   * fence), so slow endpoints never take the connections of the table deliveries. Its size bounds the
   * calls in flight. Without it, the stage's pool.
   */
  pool?: Pool;
}

/** A Retry-After is honoured up to this. */
const MAX_RETRY_AFTER_MS = 3_600_000;
/** A gap this long between the fence check and the call (a paused process) means: check again. */
const FENCE_FRESH_MS = 250;

export interface WebhookTask {
  region: string;
  sourceId: string;
  seq: number;
  epoch: number;
  recordId: string;
  output: JsonObject;
  /** A failed call with a new answer is answered `deferred` (the workflow shows it), not thrown. */
  deferNewAnswers: boolean;
}

/** What the caller's stage write does: stage_write with this output (null: only fence and gate). */
export type GateWrite<Row> = (db: PoolClient, output: JsonObject | null) => Promise<Row>;

type Failed = ApplicationFailure | RecordRejectedError | { deferred: DeferredCall };
type Outcome<Row> = { row: Row } | { fail: Failed };

/**
 * Runs the stage write around the call, in one transaction: the record's attempts one at a time (an
 * advisory lock: a second attempt waits, then finds it delivered), the region's fence (FOR SHARE: a
 * failover waits for this transaction, or ends its session, and a later attempt of the old region is
 * fenced before it calls), the gate read (the watermark only moves up: seq - 1 stays true), the
 * call, then `stage_write` with the output, which takes the watermark and record rows only then. So
 * no row lock is held during the call: the record's successor waits for its commit as for any
 * other, and an operator's action on the source is not held up by a slow endpoint.
 */
export async function deliverByWebhook<Row extends { outcome: string }>(
  db: Pool | PoolClient,
  settings: WebhookSettings,
  /** As the attempt read it, just before (a 410 or an admin's change committed since counts at the next attempt). */
  dest: WebhookDestination,
  task: WebhookTask,
  gate: GateWrite<Row>,
  fenceCheck: (c: PoolClient) => Promise<unknown>,
): Promise<Row | { deferred: DeferredCall }> {
  const refused = refusedUrl(dest.url, settings.allowedHosts);
  const run = async (c: PoolClient): Promise<Outcome<Row>> => {
    await c.query({
      name: 'webhook-record-lock',
      text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, $2))',
      values: [task.sourceId, task.seq],
    });
    await fenceCheck(c);
    const { rows } = await c.query<{ watermark: number; status: string }>({
      name: 'webhook-gate-read',
      text: `SELECT w.watermark, r.status FROM watermarks w JOIN records r ON r.source_id = w.source_id
              WHERE w.source_id = $1 AND w.stage = 'outbound' AND r.seq = $2`,
      values: [task.sourceId, task.seq],
    });
    if (!rows[0] || rows[0].status === 'skipped' || rows[0].watermark !== task.seq - 1) {
      // Not next (or no longer): stage_write decides under its locks, and nothing is called unless it finds the gate open.
      const row = await gate(c, null);
      if (row.outcome !== 'open') return { row };
    }
    const fencedAt = performance.now();
    if (dest.disabledAt) {
      const error = `destination disabled since ${dest.disabledAt} (${dest.disabledReason}); an admin sets it again with PUT /v1/admin/sources/:sourceId/destination`;
      return { fail: await failed(c, task, settings, { kind: 'retry', status: null, error }, dest, 'pipeline') };
    }
    if (refused) return { fail: await failed(c, task, settings, { kind: 'reject', status: null, error: refused }, dest, 'pipeline') };
    if (performance.now() - fencedAt > FENCE_FRESH_MS) await fenceCheck(c);
    const answer = await sendWebhook(
      {
        url: dest.url,
        secret: dest.secret,
        sourceId: task.sourceId,
        seq: task.seq,
        recordId: task.recordId,
        epoch: task.epoch,
        output: task.output,
      },
      Math.min(settings.timeoutMs, activityTimeoutMs() * 0.8),
      { lookup: connectLookup(settings.allowedHosts), refusedCode: REFUSED_ADDRESS },
    );
    if (answer.kind === 'refused') return { fail: await failed(c, task, settings, { ...answer, kind: 'reject' }, dest, 'pipeline') };
    if (answer.kind !== 'delivered') return { fail: await failed(c, task, settings, answer, dest, 'endpoint') };
    const row = await gate(c, task.output);
    await c.query({
      name: 'webhook-attempts-done',
      text: 'DELETE FROM webhook_attempts WHERE source_id = $1 AND seq = $2',
      values: [task.sourceId, task.seq],
    });
    return { row };
  };
  // Committed first (the attempt's record, a 410's disabling), then thrown.
  const outcome = 'release' in db ? await run(db) : await withTransaction(settings.pool ?? db, run);
  if (!('fail' in outcome)) return outcome.row;
  if ('deferred' in outcome.fail) return outcome.fail;
  throw outcome.fail;
}

/** Who failed the call: the endpoint (its answer, or none), or the pipeline, which did not call. */
type FailedBy = 'endpoint' | 'pipeline';

/** Records the failed call and answers what the activity throws. */
async function failed(
  c: PoolClient,
  task: WebhookTask,
  settings: WebhookSettings,
  answer: Exclude<WebhookAnswer, { kind: 'delivered' | 'refused' }>,
  dest: WebhookDestination,
  by: FailedBy,
): Promise<Failed> {
  const host = new URL(dest.url).host;
  if (answer.kind === 'gone') {
    // Only the destination this call was made to: an admin may have set it again meanwhile.
    await c.query(
      `UPDATE sources SET destination = destination || jsonb_build_object('disabledAt', now(), 'disabledReason', $2::text)
        WHERE source_id = $1 AND destination->>'url' = $3 AND destination->>'setAt' IS NOT DISTINCT FROM $4`,
      [task.sourceId, `${host} answered ${answer.error}`, dest.url, dest.setAt ?? null],
    );
  }
  const { rows } = await c.query<{ attempts: number; last_status: number | null; last_error: string }>(
    'SELECT attempts, last_status, last_error FROM webhook_attempts WHERE source_id = $1 AND seq = $2',
    [task.sourceId, task.seq],
  );
  const attempts = (rows[0]?.attempts ?? 0) + 1;
  const backoff = Math.min(settings.maxBackoffMs, 1000 * 2 ** Math.min(attempts - 1, 30));
  const retryAfter =
    answer.kind === 'retry' && answer.retryAfterMs !== undefined ? Math.min(answer.retryAfterMs, MAX_RETRY_AFTER_MS) : undefined;
  const delayMs = answer.kind === 'reject' ? null : (retryAfter ?? backoff);
  const error = by === 'pipeline' ? answer.error : answer.status === null ? `${host}: ${answer.error}` : `${host} answered ${answer.error}`;
  await c.query(
    `INSERT INTO webhook_attempts (source_id, seq, attempts, last_status, last_error, last_at, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, now(), now() + $6 * interval '1 millisecond')
     ON CONFLICT (source_id, seq) DO UPDATE SET attempts = EXCLUDED.attempts, last_status = EXCLUDED.last_status,
       last_error = EXCLUDED.last_error, last_at = EXCLUDED.last_at, next_attempt_at = EXCLUDED.next_attempt_at`,
    [task.sourceId, task.seq, attempts, answer.status, error.slice(0, 1000), delayMs],
  );
  if (answer.kind === 'reject')
    return new RecordRejectedError(by === 'pipeline' ? `webhook to ${host} refused: ${error}` : `webhook ${error}`);
  // A new kind of answer (another status; for no answer, another reason) goes to the workflow, which
  // shows it; the same again is retried by Temporal, which costs the history nothing.
  const last = rows[0];
  const isNew = !last || last.last_status !== answer.status || (answer.status === null && last.last_error !== error.slice(0, 1000));
  if (task.deferNewAnswers && isNew) return { deferred: { error, attempts, delayMs: delayMs! } };
  return ApplicationFailure.create({
    type: FailureType.DependencyUnavailable,
    message: `webhook ${error} (attempt ${attempts}; next in ${Math.round(delayMs! / 100) / 10} s)`,
    nextRetryDelay: delayMs!,
  });
}
