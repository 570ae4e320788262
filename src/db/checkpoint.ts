// The checkpoint: accepting records into Postgres with gap-free per-source seqs.
import { STAGES } from '../contracts/names';
import { withTransaction, type Pool, type PoolClient } from './pool';

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
 * In one transaction: lock the source, find ids already accepted, assign the next seqs to the new
 * ones and insert them. Nothing is written if any id conflicts.
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

  try {
    return await withTransaction(pool, (c) => insertBatch(c, sourceId, items, firstById, traceOf));
  } catch (err) {
    if (err instanceof ConflictError) return { ok: false, conflicts: err.ids };
    throw err;
  }
}

class ConflictError extends Error {
  constructor(readonly ids: string[]) {
    super('conflicting ids');
  }
}

async function insertBatch(
  c: PoolClient,
  sourceId: string,
  items: IncomingRecord[],
  firstById: Map<string, IncomingRecord>,
  traceOf: TraceOf | undefined,
): Promise<CheckpointResult> {
  const conflicts = new Set<string>();
  {
    const created = await c.query('INSERT INTO sources (source_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1', [sourceId]);
    if (created.rowCount) {
      await c.query('INSERT INTO watermarks (source_id, stage) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [sourceId, STAGES]);
    }
    const { rows: src } = await c.query<{ last_seq: number }>('SELECT last_seq FROM sources WHERE source_id = $1 FOR UPDATE', [sourceId]);
    const ids = [...firstById.keys()];
    const { rows: existing } = await c.query<{ record_id: string; seq: number; payload_hash: string }>(
      'SELECT record_id, seq, payload_hash FROM records WHERE source_id = $1 AND record_id = ANY($2::text[])',
      [sourceId, ids],
    );
    const known = new Map(existing.map((r) => [r.record_id, r]));
    for (const r of existing) if (firstById.get(r.record_id)!.hash !== r.payload_hash) conflicts.add(r.record_id);
    if (conflicts.size) throw new ConflictError([...conflicts]);

    let next = src[0].last_seq;
    const seqOf = new Map<string, number>();
    const fresh: { seq: number; item: IncomingRecord }[] = [];
    for (const id of ids) {
      const prior = known.get(id);
      if (prior) {
        seqOf.set(id, prior.seq);
      } else {
        next += 1;
        seqOf.set(id, next);
        fresh.push({ seq: next, item: firstById.get(id)! });
      }
    }
    if (fresh.length) {
      await c.query(
        `INSERT INTO records (source_id, seq, record_id, payload, payload_hash, traceparent)
         SELECT $1, s, r, p, h, tp FROM unnest($2::bigint[], $3::text[], $4::jsonb[], $5::text[], $6::text[]) AS t(s, r, p, h, tp)`,
        [
          sourceId,
          fresh.map((f) => f.seq),
          fresh.map((f) => f.item.id),
          fresh.map((f) => JSON.stringify(f.item.payload)),
          fresh.map((f) => f.item.hash),
          fresh.map((f) => traceOf?.(f.seq) ?? null),
        ],
      );
      await c.query('UPDATE sources SET last_seq = $2 WHERE source_id = $1', [sourceId, next]);
    }
    // A repeat inside the batch, or an id accepted by an earlier request, is a duplicate.
    const freshSeqs = new Set(fresh.map((f) => f.seq));
    const seen = new Set<string>();
    const records = items.map((item) => {
      const seq = seqOf.get(item.id)!;
      const duplicate = !freshSeqs.has(seq) || seen.has(item.id);
      seen.add(item.id);
      return { id: item.id, seq, duplicate };
    });
    return { ok: true, records, newSeqs: fresh.map((f) => f.seq) };
  }
}
