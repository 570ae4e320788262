// The checkpoint: accepting records into Postgres with gap-free per-source seqs.
import type { Watermarks } from '../contracts/gate';
import type { Pool } from './pool';
import type { RegionRow } from './regions';

export interface IncomingRecord {
  id: string;
  payload: Record<string, unknown>;
  /** sha256 of the canonical JSON of the payload: the same id with another payload is a conflict. */
  hash: string;
}

export interface AcceptedRecord {
  id: string;
  seq: number;
  duplicate: boolean;
}

/** The trace context to store with a new record (tracing on), given its seq. */
export type TraceOf = (seq: number) => string | null;

/** A record this checkpoint inserted, with what its workflow's start shows of it. */
export interface NewRecord {
  seq: number;
  recordId: string;
  payloadHash: string;
  traceparent: string | null;
}

/**
 * What starting the new records needs, read in the checkpoint's own statement (so the submit path
 * does not read it again): the active region and the source's watermarks, as of the statement's
 * start. Null when no region is active.
 */
export interface StartContext {
  region: RegionRow;
  watermarks: Watermarks;
}

export type CheckpointResult =
  | { ok: true; records: AcceptedRecord[]; newSeqs: number[]; fresh: NewRecord[]; context: StartContext | null }
  | { ok: false; conflicts: string[] };

interface CheckpointRow {
  seqs: number[];
  fresh: boolean[];
  region: string | null;
  namespace: string | null;
  epoch: number | null;
  watermarks: Watermarks;
}

/**
 * In one statement (checkpoint_records): lock the source, find ids already accepted, assign the
 * next seqs to the new ones and insert them. Nothing is written if any id conflicts.
 */
export async function checkpointRecords(
  pool: Pool,
  sourceId: string,
  items: IncomingRecord[],
  traceOf?: TraceOf,
): Promise<CheckpointResult> {
  // Repeats inside the batch: the first occurrence counts, a later one with another payload conflicts.
  const firstById = new Map<string, IncomingRecord>();
  const conflicts = new Set<string>();
  for (const item of items) {
    const first = firstById.get(item.id);
    if (!first) firstById.set(item.id, item);
    else if (first.hash !== item.hash) conflicts.add(item.id);
  }
  if (conflicts.size) return { ok: false, conflicts: [...conflicts] };

  const unique = [...firstById.values()];
  let rows: CheckpointRow[];
  try {
    // Named: prepared once per connection, not parsed and planned on every submit.
    ({ rows } = await pool.query<CheckpointRow>({
      name: 'checkpoint-records',
      text: CHECKPOINT_SQL,
      values: [sourceId, unique.map((u) => u.id), unique.map((u) => JSON.stringify(u.payload)), unique.map((u) => u.hash)],
    }));
  } catch (err) {
    const e = err as { code?: string; detail?: string };
    if (e.code === ID_CONFLICT) return { ok: false, conflicts: JSON.parse(e.detail ?? '[]') as string[] };
    throw err;
  }
  const row = rows[0];
  const { seqs, fresh } = row;
  const seqOf = new Map(unique.map((u, i) => [u.id, seqs[i]]));
  const inserted: NewRecord[] = unique.flatMap((u, i) =>
    fresh[i] ? [{ seq: seqs[i], recordId: u.id, payloadHash: u.hash, traceparent: traceOf ? traceOf(seqs[i]) : null }] : [],
  );
  const newSeqs = inserted.map((r) => r.seq);
  if (traceOf && newSeqs.length) {
    // Tracing on: each new record's trace context, stored before anything can start its workflow
    // (the relay leaves records this young to the submit path, which starts them after this).
    await pool.query(
      'UPDATE records r SET traceparent = t.tp FROM unnest($2::bigint[], $3::text[]) AS t (seq, tp) WHERE r.source_id = $1 AND r.seq = t.seq',
      [sourceId, newSeqs, inserted.map((r) => r.traceparent)],
    );
  }
  const context: StartContext | null =
    row.region !== null && row.namespace !== null && row.epoch !== null
      ? { region: { name: row.region, namespace: row.namespace, active: true, epoch: row.epoch }, watermarks: row.watermarks }
      : null;
  // A repeat inside the batch, or an id accepted by an earlier request, is a duplicate.
  const freshIds = new Set(inserted.map((r) => r.recordId));
  const seen = new Set<string>();
  const records = items.map((item) => {
    const duplicate = !freshIds.has(item.id) || seen.has(item.id);
    seen.add(item.id);
    return { id: item.id, seq: seqOf.get(item.id)!, duplicate };
  });
  return { ok: true, records, newSeqs, fresh: inserted, context };
}

// The function runs once (a function scan); the region and the watermarks are read in the same
// statement, as of its start: a failover or a watermark move committed meanwhile makes them stale,
// which the start path already tolerates (the fence, the workflow's own read of Postgres, the relay).
const CHECKPOINT_SQL = `
  SELECT c.seqs, c.fresh, r.name AS region, r.namespace, r.epoch,
         (SELECT coalesce(jsonb_object_agg(w.stage, w.watermark), '{}'::jsonb) FROM watermarks w WHERE w.source_id = $1) AS watermarks
    FROM checkpoint_records($1, $2, $3, $4) AS c
    LEFT JOIN regions r ON r.active`;

/** The SQLSTATE checkpoint_records (migration 0008) raises for ids accepted with another payload. */
const ID_CONFLICT = 'PC409';
