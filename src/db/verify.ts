// The invariants, checked straight from the tables. Usable at any time (npm run verify).
import { STAGES } from '../names';
import { stageTable } from '../activities/stage-write';
import type { Pool } from './pool';

export const CHECKED_TABLES = [...STAGES.map(stageTable), 'deliveries'];

export interface VerifyReport {
  sources: number;
  records: Record<string, number>;
  rows: Record<string, number>;
  /** Rows beyond one per (source, seq): impossible while the unique keys hold. */
  duplicates: number;
  /** Per table and source: a row whose seq is not above the previous row's in id order. */
  orderViolations: { table: string; sourceId: string; count: number; firstAtSeq: number }[];
  /** Records that should have a row in a table and do not (only judged for finished records). */
  missing: { table: string; sourceId: string; seq: number }[];
  /** Records not yet finished (accepted, processing, blocked). */
  open: number;
  ok: boolean;
}

export async function verifyInvariants(pool: Pool, opts: { sourcePrefix?: string } = {}): Promise<VerifyReport> {
  const like = `${(opts.sourcePrefix ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const counts = await pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM records WHERE source_id LIKE $1 GROUP BY status',
    [like],
  );
  const records = Object.fromEntries(counts.rows.map((r) => [r.status, r.n]));
  const sources = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM sources WHERE source_id LIKE $1', [like])).rows[0].n;
  const rows: Record<string, number> = {};
  let duplicates = 0;
  const orderViolations: VerifyReport['orderViolations'] = [];
  const missing: VerifyReport['missing'] = [];
  for (const table of CHECKED_TABLES) {
    const stats = await pool.query<{ n: number; distinct_n: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT (source_id, seq))::int AS distinct_n FROM ${table} WHERE source_id LIKE $1`,
      [like],
    );
    rows[table] = stats.rows[0].n;
    duplicates += stats.rows[0].n - stats.rows[0].distinct_n;
    const order = await pool.query<{ source_id: string; count: number; first_at: number }>(
      `SELECT source_id, count(*)::int AS count, min(seq) AS first_at FROM (
         SELECT source_id, seq, lag(seq) OVER (PARTITION BY source_id ORDER BY id) AS prev FROM ${table} WHERE source_id LIKE $1
       ) t WHERE prev IS NOT NULL AND seq <= prev GROUP BY source_id`,
      [like],
    );
    for (const o of order.rows) orderViolations.push({ table, sourceId: o.source_id, count: o.count, firstAtSeq: o.first_at });
    // A delivered record has a row everywhere; a skipped one everywhere before the stage it was skipped at.
    const gaps = await pool.query<{ source_id: string; seq: number }>(
      `SELECT r.source_id, r.seq FROM records r
        WHERE r.source_id LIKE $1 AND r.status = 'delivered'
          AND NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.source_id = r.source_id AND t.seq = r.seq)
        ORDER BY r.source_id, r.seq LIMIT 100`,
      [like],
    );
    for (const g of gaps.rows) missing.push({ table, sourceId: g.source_id, seq: g.seq });
  }
  const open = (records.accepted ?? 0) + (records.processing ?? 0) + (records.blocked ?? 0);
  return {
    sources,
    records,
    rows,
    duplicates,
    orderViolations,
    missing,
    open,
    ok: duplicates === 0 && orderViolations.length === 0 && missing.length === 0,
  };
}
