// The invariants, checked straight from the tables. Usable at any time (npm run verify). Every check
// here can fail on a broken dataset (test/integration/verify.test.ts builds one per check); counts
// the unique keys make impossible are not checks.
import { STAGES } from '../contracts/names';
import { stageTable } from './stages';
import type { Pool } from './pool';

export const CHECKED_TABLES = [...STAGES.map(stageTable), 'deliveries'];

/** How many offending rows or records each list keeps (the checks still fail on any). */
const LIST_LIMIT = 100;
/** How many open records the report lists. */
const OPEN_LIST_LIMIT = 20;

export interface VerifyOptions {
  /** Only sources whose id starts with this. */
  sourcePrefix?: string;
  /** Only these sources (with sourcePrefix: both apply). */
  sources?: string[];
  /** The caller expects a drained system: an open record (accepted, processing, blocked) fails the check. */
  expectDrained?: boolean;
}

export interface VerifyReport {
  sources: number;
  /** Records by status. */
  records: Record<string, number>;
  /** Rows by table. */
  rows: Record<string, number>;
  /** Per table and source: a row whose seq is not above the previous row's in id order. */
  orderViolations: { table: string; sourceId: string; count: number; firstAtSeq: number }[];
  /** Delivered records without exactly one row in a stage table or in deliveries (`rows`: how many they have). */
  notOnce: { table: string; sourceId: string; seq: number; rows: number }[];
  /**
   * Skipped records that are not what a skip leaves: blocked_stage set, a dead letter at that stage,
   * one row in each stage before it, none at it or past it, no delivery.
   */
  badSkips: { sourceId: string; seq: number; blockedStage: string | null; problem: string }[];
  /** Sources whose number of deliveries differs from their number of `delivered` records. */
  deliveryCounts: { sourceId: string; deliveries: number; delivered: number }[];
  /**
   * Rows of no record; deliveries of a record not `delivered`; dead letters of a record not
   * `skipped` (`status`: the record's, null when there is none).
   */
  orphans: { table: string; sourceId: string; seq: number; status: string | null }[];
  /**
   * Sources whose records are not exactly seqs 1..last_seq: `missing` seqs of that range have no
   * record (lost, or the counter ran ahead), `beyond` records have a seq outside it.
   */
  seqGaps: { sourceId: string; lastSeq: number; missing: number; beyond: number }[];
  /** Records not yet finished (accepted, processing, blocked). */
  open: number;
  /** The first open records, in source and seq order, with the stage each is at. */
  openRecords: { sourceId: string; seq: number; status: string; stage: string; region: string | null }[];
  /** Whether open records fail the check (VerifyOptions.expectDrained). */
  expectDrained: boolean;
  ok: boolean;
}

export async function verifyInvariants(pool: Pool, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const like = `${(opts.sourcePrefix ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const only = opts.sources ?? null;
  // $1 and $2 of every query below: the prefix and the optional list of sources.
  const scope = (col: string) => `(${col} LIKE $1 AND ($2::text[] IS NULL OR ${col} = ANY($2::text[])))`;
  const q = async <T extends object>(sql: string, extra: unknown[] = []) => (await pool.query<T>(sql, [like, only, ...extra])).rows;

  const counts = await q<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM records WHERE ${scope('source_id')} GROUP BY status`,
  );
  const records = Object.fromEntries(counts.map((r) => [r.status, r.n]));
  const sources = (await q<{ n: number }>(`SELECT count(*)::int AS n FROM sources WHERE ${scope('source_id')}`))[0].n;
  const rows: Record<string, number> = {};
  const orderViolations: VerifyReport['orderViolations'] = [];
  const notOnce: VerifyReport['notOnce'] = [];
  const badSkips: VerifyReport['badSkips'] = [];
  const orphans: VerifyReport['orphans'] = [];

  for (const [index, table] of CHECKED_TABLES.entries()) {
    rows[table] = (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${scope('source_id')}`))[0].n;
    // Guarantee 3 in its checkable form: per source, id order is seq order.
    const order = await q<{ source_id: string; count: number; first_at: number }>(
      `SELECT source_id, count(*)::int AS count, min(seq) AS first_at FROM (
         SELECT source_id, seq, lag(seq) OVER (PARTITION BY source_id ORDER BY id) AS prev FROM ${table} WHERE ${scope('source_id')}
       ) t WHERE prev IS NOT NULL AND seq <= prev GROUP BY source_id ORDER BY source_id`,
    );
    for (const o of order) orderViolations.push({ table, sourceId: o.source_id, count: o.count, firstAtSeq: o.first_at });
    // Guarantees 1 and 2: a delivered record has exactly one row here (counted, so a lost unique key shows).
    const once = await q<{ source_id: string; seq: number; rows: number }>(
      `SELECT r.source_id, r.seq, count(t.seq)::int AS rows
         FROM records r LEFT JOIN ${table} t ON t.source_id = r.source_id AND t.seq = r.seq
        WHERE ${scope('r.source_id')} AND r.status = 'delivered'
        GROUP BY r.source_id, r.seq HAVING count(t.seq) <> 1
        ORDER BY r.source_id, r.seq LIMIT ${LIST_LIMIT}`,
    );
    for (const o of once) notOnce.push({ table, sourceId: o.source_id, seq: o.seq, rows: o.rows });
    // A skipped record has one row in each stage before the one it was blocked at, none from there on
    // (deliveries come after every stage). No blocked_stage at all: it should have no row anywhere.
    const skips = await q<{ source_id: string; seq: number; blocked_stage: string | null; rows: number; expected: number }>(
      `SELECT source_id, seq, blocked_stage, rows, expected FROM (
         SELECT r.source_id, r.seq, r.blocked_stage, count(t.seq)::int AS rows,
                CASE WHEN coalesce(array_position($3::text[], r.blocked_stage), 0) > $4 THEN 1 ELSE 0 END AS expected
           FROM records r LEFT JOIN ${table} t ON t.source_id = r.source_id AND t.seq = r.seq
          WHERE ${scope('r.source_id')} AND r.status = 'skipped'
          GROUP BY r.source_id, r.seq, r.blocked_stage
       ) s WHERE rows <> expected ORDER BY source_id, seq LIMIT ${LIST_LIMIT}`,
      [STAGES, index + 1],
    );
    for (const s of skips) {
      const problem = s.expected
        ? `${s.rows} rows in ${table} (before its blocked stage: 1)`
        : `${s.rows} rows in ${table} (at or past its blocked stage: 0)`;
      badSkips.push({ sourceId: s.source_id, seq: s.seq, blockedStage: s.blocked_stage, problem });
    }
    // Rows that belong to no record; deliveries of a record that is not delivered.
    const strays = await q<{ source_id: string; seq: number; status: string | null }>(
      `SELECT t.source_id, t.seq, r.status
         FROM ${table} t LEFT JOIN records r ON r.source_id = t.source_id AND r.seq = t.seq
        WHERE ${scope('t.source_id')} AND (r.seq IS NULL ${table === 'deliveries' ? "OR r.status <> 'delivered'" : ''})
        ORDER BY t.source_id, t.seq LIMIT ${LIST_LIMIT}`,
    );
    for (const s of strays) orphans.push({ table, sourceId: s.source_id, seq: s.seq, status: s.status });
  }

  // A skip leaves the stage it happened at on the record and on its dead letter.
  const letters = await q<{ source_id: string; seq: number; blocked_stage: string | null; dead_letter: string | null }>(
    `SELECT r.source_id, r.seq, r.blocked_stage, d.stage AS dead_letter
       FROM records r LEFT JOIN dead_letters d ON d.source_id = r.source_id AND d.seq = r.seq
      WHERE ${scope('r.source_id')} AND r.status = 'skipped'
        AND (r.blocked_stage IS NULL OR NOT (r.blocked_stage = ANY($3::text[])) OR d.stage IS DISTINCT FROM r.blocked_stage)
      ORDER BY r.source_id, r.seq LIMIT ${LIST_LIMIT}`,
    [STAGES],
  );
  for (const l of letters) {
    const problem =
      !l.blocked_stage || !(STAGES as readonly string[]).includes(l.blocked_stage)
        ? `blocked_stage is ${l.blocked_stage ?? 'not set'}`
        : l.dead_letter
          ? `dead letter at ${l.dead_letter}, blocked at ${l.blocked_stage}`
          : 'no dead letter';
    badSkips.push({ sourceId: l.source_id, seq: l.seq, blockedStage: l.blocked_stage, problem });
  }
  // A dead letter outlives its record once retention removed it (below retained_from).
  const strayLetters = await q<{ source_id: string; seq: number; status: string | null }>(
    `SELECT d.source_id, d.seq, r.status
       FROM dead_letters d LEFT JOIN records r ON r.source_id = d.source_id AND r.seq = d.seq
       LEFT JOIN source_retention k ON k.source_id = d.source_id
      WHERE ${scope('d.source_id')} AND (r.seq IS NULL OR r.status <> 'skipped') AND d.seq >= coalesce(k.retained_from, 1)
      ORDER BY d.source_id, d.seq LIMIT ${LIST_LIMIT}`,
  );
  for (const s of strayLetters) orphans.push({ table: 'dead_letters', sourceId: s.source_id, seq: s.seq, status: s.status });
  badSkips.sort((a, b) => a.sourceId.localeCompare(b.sourceId) || a.seq - b.seq);

  // What the destination received, per source, against what the checkpoint says was delivered.
  const deliveryCounts = (
    await q<{ source_id: string; deliveries: number; delivered: number }>(
      `SELECT source_id, coalesce(d.n, 0) AS deliveries, coalesce(r.n, 0) AS delivered
         FROM (SELECT source_id, count(*)::int AS n FROM deliveries WHERE ${scope('source_id')} GROUP BY source_id) d
         FULL JOIN (SELECT source_id, count(*)::int AS n FROM records WHERE ${scope('source_id')} AND status = 'delivered' GROUP BY source_id) r
        USING (source_id)
        WHERE coalesce(d.n, 0) <> coalesce(r.n, 0)
        ORDER BY source_id LIMIT ${LIST_LIMIT}`,
    )
  ).map((d) => ({ sourceId: d.source_id, deliveries: d.deliveries, delivered: d.delivered }));

  // Nothing accepted went missing: the checkpoint gives a source's records the seqs 1..last_seq, of
  // which retention removes a finished prefix (source_retention.retained_from: the first seq kept).
  const seqGaps = (
    await q<{ source_id: string; last_seq: number; missing: number; beyond: number }>(
      `SELECT source_id, last_seq, missing, beyond FROM (
         SELECT s.source_id, s.last_seq,
                (s.last_seq - coalesce(k.retained_from, 1) + 1
                  - count(r.seq) FILTER (WHERE r.seq BETWEEN coalesce(k.retained_from, 1) AND s.last_seq))::int AS missing,
                (count(r.seq) FILTER (WHERE r.seq NOT BETWEEN coalesce(k.retained_from, 1) AND s.last_seq))::int AS beyond
           FROM sources s LEFT JOIN source_retention k USING (source_id) LEFT JOIN records r USING (source_id)
          WHERE ${scope('s.source_id')}
          GROUP BY s.source_id, s.last_seq, k.retained_from
       ) g WHERE missing <> 0 OR beyond <> 0 ORDER BY source_id LIMIT ${LIST_LIMIT}`,
    )
  ).map((g) => ({ sourceId: g.source_id, lastSeq: g.last_seq, missing: g.missing, beyond: g.beyond }));

  const open = (records.accepted ?? 0) + (records.processing ?? 0) + (records.blocked ?? 0);
  // Where each open record is: its blocked stage, else the first stage it has no row in.
  const firstMissing = STAGES.map(
    (s) => `WHEN NOT EXISTS (SELECT 1 FROM ${stageTable(s)} t WHERE t.source_id = r.source_id AND t.seq = r.seq) THEN '${s}'`,
  ).join(' ');
  const openRecords =
    open === 0
      ? []
      : (
          await q<{ source_id: string; seq: number; status: string; stage: string; region: string | null }>(
            `SELECT r.source_id, r.seq, r.status, r.region,
              coalesce(r.blocked_stage, CASE ${firstMissing} ELSE 'delivery' END) AS stage
         FROM records r
        WHERE ${scope('r.source_id')} AND r.status IN ('accepted', 'processing', 'blocked')
        ORDER BY r.source_id, r.seq LIMIT ${OPEN_LIST_LIMIT}`,
          )
        ).map((r) => ({ sourceId: r.source_id, seq: r.seq, status: r.status, stage: r.stage, region: r.region }));

  const expectDrained = opts.expectDrained ?? false;
  const report = {
    sources,
    records,
    rows,
    orderViolations,
    notOnce,
    badSkips,
    deliveryCounts,
    orphans,
    seqGaps,
    open,
    openRecords,
    expectDrained,
  };
  return { ...report, ok: violations({ ...report, ok: true }).length === 0 };
}

/** Every failed check of a report, one line each (empty when the report is ok). */
export function violations(r: VerifyReport): string[] {
  const out: string[] = [];
  for (const v of r.orderViolations)
    out.push(`${v.table}: ${v.count} rows of ${v.sourceId} out of seq order (first at seq ${v.firstAtSeq})`);
  const first = <T>(list: T[], say: (x: T) => string) => `${list.length}${list.length >= LIST_LIMIT ? '+' : ''} (first: ${say(list[0])})`;
  if (r.notOnce.length) {
    out.push(
      `delivered records without exactly one row in a table: ${first(r.notOnce, (m) => `${m.sourceId} #${m.seq} has ${m.rows} in ${m.table}`)}`,
    );
  }
  if (r.badSkips.length)
    out.push(`skipped records left inconsistent: ${first(r.badSkips, (s) => `${s.sourceId} #${s.seq}: ${s.problem}`)}`);
  if (r.deliveryCounts.length) {
    out.push(
      `sources whose deliveries differ from their delivered records: ${first(r.deliveryCounts, (d) => `${d.sourceId}: ${d.deliveries} deliveries, ${d.delivered} delivered`)}`,
    );
  }
  if (r.orphans.length) {
    out.push(
      `rows of no record or of a record in another state: ${first(r.orphans, (o) => `${o.table} ${o.sourceId} #${o.seq}, record ${o.status ?? 'missing'}`)}`,
    );
  }
  if (r.seqGaps.length) {
    out.push(
      `sources whose records are not seqs 1..last_seq: ${first(r.seqGaps, (g) => `${g.sourceId}: last_seq ${g.lastSeq}, ${g.missing} missing, ${g.beyond} beyond`)}`,
    );
  }
  if (r.expectDrained && r.open > 0) {
    const o = r.openRecords[0];
    out.push(`${r.open} records still open (first: ${o ? `${o.sourceId} #${o.seq} ${o.status} at ${o.stage}` : '?'})`);
  }
  return out;
}
