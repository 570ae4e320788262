// The checkpoint: accepting records into Postgres with gap-free per-source seqs.
import type { Pool } from './pool';

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

export type CheckpointResult = { ok: true; records: AcceptedRecord[]; newSeqs: number[] } | { ok: false; conflicts: string[] };

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
  let rows: { seqs: number[]; fresh: boolean[] }[];
  try {
    ({ rows } = await pool.query<{ seqs: number[]; fresh: boolean[] }>('SELECT seqs, fresh FROM checkpoint_records($1, $2, $3, $4)', [
      sourceId,
      unique.map((u) => u.id),
      unique.map((u) => JSON.stringify(u.payload)),
      unique.map((u) => u.hash),
    ]));
  } catch (err) {
    const e = err as { code?: string; detail?: string };
    if (e.code === ID_CONFLICT) return { ok: false, conflicts: JSON.parse(e.detail ?? '[]') as string[] };
    throw err;
  }
  const { seqs, fresh } = rows[0];
  const seqOf = new Map(unique.map((u, i) => [u.id, seqs[i]]));
  const newSeqs = seqs.filter((_, i) => fresh[i]);
  if (traceOf && newSeqs.length) {
    // Tracing on: each new record's trace context, stored before anything can start its workflow
    // (the relay leaves records this young to the submit path, which starts them after this).
    await pool.query(
      'UPDATE records r SET traceparent = t.tp FROM unnest($2::bigint[], $3::text[]) AS t (seq, tp) WHERE r.source_id = $1 AND r.seq = t.seq',
      [sourceId, newSeqs, newSeqs.map((seq) => traceOf(seq))],
    );
  }
  // A repeat inside the batch, or an id accepted by an earlier request, is a duplicate.
  const freshIds = new Set(unique.filter((_, i) => fresh[i]).map((u) => u.id));
  const seen = new Set<string>();
  const records = items.map((item) => {
    const duplicate = !freshIds.has(item.id) || seen.has(item.id);
    seen.add(item.id);
    return { id: item.id, seq: seqOf.get(item.id)!, duplicate };
  });
  return { ok: true, records, newSeqs };
}

/** The SQLSTATE checkpoint_records (migration 0008) raises for ids accepted with another payload. */
const ID_CONFLICT = 'PC409';
