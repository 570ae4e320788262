// The end of a chaos run, read from the tables: nothing lost, nothing twice, nothing out of order,
// nothing left open. The invariants are judged by the shared checker (src/db/verify.ts); what is
// added here is the load generator's side (every 202 delivered) and a description of what is open.
import type { Pool } from '../../src/db/pool';
import { verifyInvariants, violations, type VerifyReport } from '../../src/db/verify';

export interface RunCheck {
  /** Records in Postgres for the run's sources (every 202, plus batches whose answer was lost). */
  accepted: number;
  /** Records answered 202 to the load generator. */
  acknowledged: number;
  delivered: number;
  /** Rows beyond one per record and table, and rows of no record (the shared checker's notOnce and orphans). */
  duplicates: number;
  orderViolations: VerifyReport['orderViolations'];
  /** Acknowledged records that are not in Postgres, or that were never delivered. */
  lost: string[];
  /** Records still open (accepted, processing, blocked) at the end, after the drain wait: the checker's `open`. */
  stalled: number;
  /** The open records by status and region, and the first open one of each stalled source. */
  stalledDetail: { byStatus: { status: string; region: string | null; n: number }[]; first: string[] };
  /** Seqs missing from a source's 1..last_seq, or a stage row missing for a delivered record (the checker's seqGaps and notOnce). */
  gaps: number;
  maxLatencyS: number;
  /** Every check of the shared invariant checker that failed (src/db/verify.ts), one line each. */
  invariants: string[];
  ok: boolean;
}

export async function checkRun(pool: Pool, sources: string[], acknowledged: Set<string>): Promise<RunCheck> {
  const verify = await verifyInvariants(pool, { sources, expectDrained: true });
  const { rows } = await pool.query<{ source_id: string; record_id: string; seq: number; delivered: boolean }>(
    `SELECT r.source_id, r.record_id, r.seq, d.seq IS NOT NULL AS delivered
       FROM records r LEFT JOIN deliveries d USING (source_id, seq) WHERE r.source_id = ANY($1)`,
    [sources],
  );
  const delivered = new Set(rows.filter((r) => r.delivered).map((r) => `${r.source_id}\n${r.record_id}`));
  const lost = [...acknowledged].filter((key) => !delivered.has(key)).map((key) => key.replace('\n', '/'));
  for (const r of rows) if (!r.delivered && !acknowledged.has(`${r.source_id}\n${r.record_id}`)) lost.push(`${r.source_id}/${r.record_id}`);
  const latency = await pool.query<{ s: number | null }>(
    `SELECT extract(epoch FROM max(d.delivered_at - r.accepted_at))::float AS s
       FROM deliveries d JOIN records r USING (source_id, seq) WHERE r.source_id = ANY($1)`,
    [sources],
  );
  const gaps = verify.seqGaps.reduce((n, g) => n + g.missing, 0) + verify.notOnce.filter((m) => m.rows === 0).length;
  const duplicates = verify.notOnce.reduce((n, m) => n + Math.max(0, m.rows - 1), 0) + verify.orphans.length;
  // Open at the end: the system stopped making progress on these (liveness), whatever else holds.
  // The checker counts them; when there are any, two queries only describe where they are.
  const stalled = verify.open;
  const byStatus =
    stalled === 0
      ? []
      : (
          await pool.query<{ status: string; region: string | null; n: number }>(
            `SELECT status, region, count(*)::int AS n FROM records
        WHERE source_id = ANY($1) AND status IN ('accepted', 'processing', 'blocked') GROUP BY 1, 2 ORDER BY 3 DESC`,
            [sources],
          )
        ).rows;
  const first =
    stalled === 0
      ? []
      : (
          await pool.query<{ source_id: string; seq: string; status: string; region: string | null; epoch: string | null }>(
            `SELECT DISTINCT ON (source_id) source_id, seq, status, region, epoch FROM records
        WHERE source_id = ANY($1) AND status IN ('accepted', 'processing', 'blocked') ORDER BY source_id, seq`,
            [sources],
          )
        ).rows;
  return {
    accepted: rows.length,
    acknowledged: acknowledged.size,
    delivered: delivered.size,
    duplicates,
    orderViolations: verify.orderViolations,
    lost,
    stalled,
    stalledDetail: {
      byStatus,
      first: first.map((r) => `${r.source_id}/${r.seq} ${r.status} in ${r.region ?? '-'} at epoch ${r.epoch ?? '-'}`),
    },
    gaps,
    maxLatencyS: Math.round((latency.rows[0].s ?? 0) * 10) / 10,
    invariants: violations(verify),
    ok: verify.ok && lost.length === 0 && stalled === 0 && gaps === 0,
  };
}
