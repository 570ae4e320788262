// Read queries behind GET /v1/stats and the pipeline metrics: per stage in flight and oldest
// waiting, per source summaries, recent totals. All derived from the watermarks (the gate's truth).
import { STAGES, type Stage } from '../contracts/names';
import { SOURCES_BEHIND } from './relay-queries';
import { stageTable } from './stages';
import type { Pool } from './pool';

export interface SourceWatermarks {
  sourceId: string;
  lastSeq: number;
  watermarks: Record<Stage, number>;
}

type WatermarkRow = { source_id: string; last_seq: number; stage: Stage | null; watermark: number | null };

function bySource(rows: WatermarkRow[]): SourceWatermarks[] {
  const out = new Map<string, SourceWatermarks>();
  for (const r of rows) {
    let s = out.get(r.source_id);
    if (!s) {
      s = {
        sourceId: r.source_id,
        lastSeq: r.last_seq,
        watermarks: Object.fromEntries(STAGES.map((st) => [st, 0])) as Record<Stage, number>,
      };
      out.set(r.source_id, s);
    }
    if (r.stage) s.watermarks[r.stage] = r.watermark ?? 0;
  }
  return [...out.values()];
}

const WATERMARKS_OF = `SELECT s.source_id, s.last_seq, w.stage, w.watermark
                         FROM sources s LEFT JOIN watermarks w ON w.source_id = s.source_id`;

/**
 * The sources with open work (a record accepted, processing or blocked), by id: only they can have
 * records in flight at a stage. Read through the partial index of open records, so a scrape costs
 * what is open, not what the history holds.
 */
export async function openWatermarks(pool: Pool): Promise<SourceWatermarks[]> {
  const { rows } = await pool.query<WatermarkRow>(
    `${WATERMARKS_OF}
      WHERE s.source_id IN (SELECT DISTINCT source_id FROM records WHERE status IN ('accepted', 'processing', 'blocked'))
      ORDER BY s.source_id`,
  );
  return bySource(rows);
}

/** These sources' watermarks, by id. */
export async function watermarksOf(pool: Pool, ids: string[]): Promise<SourceWatermarks[]> {
  if (!ids.length) return [];
  const { rows } = await pool.query<WatermarkRow>(`${WATERMARKS_OF} WHERE s.source_id = ANY($1::text[]) ORDER BY s.source_id`, [ids]);
  return bySource(rows);
}

/**
 * A time on the database's clock, kept to the microsecond its timestamps have (a JS Date keeps
 * milliseconds: a write in the same millisecond as a read would count as after it).
 */
export type DbTime = string & { readonly __dbTime: unique symbol };

const DB_NOW = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The watermarks of the sources whose watermarks moved in the `marginMs` before `since` or after
 * it, and of the sources `also`, with the database's time of the read.
 */
export async function movedWatermarks(
  pool: Pool,
  since: DbTime,
  marginMs: number,
  also: string[],
): Promise<{ at: DbTime; sources: SourceWatermarks[] }> {
  const { rows } = await pool.query<WatermarkRow & { at: DbTime }>(
    `SELECT ${DB_NOW} AS at, s.source_id, s.last_seq, w.stage, w.watermark
       FROM sources s LEFT JOIN watermarks w ON w.source_id = s.source_id
      WHERE s.source_id IN (SELECT source_id FROM watermarks WHERE updated_at > $1::timestamptz - $3 * interval '1 millisecond')
         OR s.source_id = ANY($2::text[])
      ORDER BY s.source_id`,
    [since, also, marginMs],
  );
  const at = rows[0]?.at ?? (await dbNow(pool));
  return { at, sources: bySource(rows) };
}

/** Up to `n` sources for a listing: those with open work first (by id), then the others by id. */
export async function listedSources(pool: Pool, open: SourceWatermarks[], n: number): Promise<SourceWatermarks[]> {
  const listed = open.slice(0, n);
  if (listed.length >= n) return listed;
  const { rows } = await pool.query<{ source_id: string }>(
    'SELECT source_id FROM sources WHERE source_id <> ALL($1::text[]) ORDER BY source_id LIMIT $2',
    [open.map((s) => s.sourceId), n - listed.length],
  );
  return [
    ...listed,
    ...(await watermarksOf(
      pool,
      rows.map((r) => r.source_id),
    )),
  ];
}

/** How many sources there are (also a column of the metrics' totals). */
export const SOURCE_COUNT_SQL = 'SELECT count(*)::int FROM sources';

export async function sourceCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT (${SOURCE_COUNT_SQL}) AS n`);
  return rows[0].n;
}

/** The database's clock: the one the tables' timestamps are in. */
export async function dbNow(pool: Pool): Promise<DbTime> {
  return (await pool.query<{ at: DbTime }>(`SELECT ${DB_NOW} AS at`)).rows[0].at;
}

export interface StageLoad {
  stage: Stage;
  /** Records that finished the previous stage (or were accepted, for inbound) and not this one. */
  inFlight: number;
  /** Seconds the longest-waiting record at this stage has waited since the previous stage wrote it. */
  oldestWaitingSeconds: number | null;
}

/** The head of the line at a stage, per source: seq watermark + 1 when the previous stage is ahead. */
export async function stageLoad(pool: Pool, sources: SourceWatermarks[]): Promise<StageLoad[]> {
  const out: StageLoad[] = [];
  for (const [i, stage] of STAGES.entries()) {
    const prev = i === 0 ? undefined : STAGES[i - 1];
    const heads = sources
      .map((s) => ({ s, ahead: (prev ? s.watermarks[prev] : s.lastSeq) - s.watermarks[stage] }))
      .filter((h) => h.ahead > 0);
    const inFlight = heads.reduce((n, h) => n + h.ahead, 0);
    let oldestWaitingSeconds: number | null = null;
    if (heads.length) {
      const { rows } = await pool.query<{ age: number | null }>(
        `SELECT extract(epoch FROM now() - min(${prev ? 'p.written_at' : 'r.accepted_at'}))::float8 AS age
           FROM unnest($1::text[], $2::bigint[]) AS u(source_id, seq)
           JOIN records r ON r.source_id = u.source_id AND r.seq = u.seq
           ${prev ? `JOIN ${stageTable(prev)} p ON p.source_id = u.source_id AND p.seq = u.seq` : ''}`,
        [heads.map((h) => h.s.sourceId), heads.map((h) => h.s.watermarks[stage] + 1)],
      );
      oldestWaitingSeconds = rows[0]?.age ?? null;
    }
    out.push({ stage, inFlight, oldestWaitingSeconds });
  }
  return out;
}

export async function recentTotals(pool: Pool, seconds: number): Promise<{ accepted: number; delivered: number }> {
  const { rows } = await pool.query<{ accepted: number; delivered: number }>(
    `SELECT (SELECT count(*) FROM records WHERE accepted_at > now() - make_interval(secs => $1))::int AS accepted,
            (SELECT count(*) FROM deliveries WHERE delivered_at > now() - make_interval(secs => $1))::int AS delivered`,
    [seconds],
  );
  return rows[0];
}

/**
 * Open records without a workflow in the active region's epoch: what the relay still has to start.
 * The never-started ones are read per source behind (SOURCES_BEHIND), past what it finished; the
 * active epoch is a scalar (a join with regions misestimated the rows a hundredfold, and Postgres
 * spent 0.7 s compiling the query at a 100,000-record backlog).
 */
export async function relayBacklog(pool: Pool): Promise<{ count: number; oldestSeconds: number | null }> {
  const { rows } = await pool.query<{ count: number; oldest: number | null }>(
    `WITH ${SOURCES_BEHIND},
     never AS (
       SELECT sum(c.n) AS n, min(c.oldest) AS oldest
         FROM behind s CROSS JOIN LATERAL (
              SELECT count(*) AS n, min(r.accepted_at) AS oldest FROM records r
               WHERE r.source_id = s.source_id AND r.seq > s.done AND r.seq <= s.last_seq
                 AND r.status IN ('accepted', 'processing') AND r.epoch IS NULL) c
     ),
     active AS MATERIALIZED (SELECT epoch FROM regions WHERE active),
     older AS (
       SELECT count(*) AS n, min(accepted_at) AS oldest FROM records
        WHERE status IN ('accepted', 'processing')
          AND (epoch < (SELECT epoch FROM active) OR epoch > (SELECT epoch FROM active))
     )
     SELECT (coalesce(never.n, 0) + older.n)::int AS count, extract(epoch FROM now() - least(never.oldest, older.oldest))::float8 AS oldest
       FROM never, older`,
  );
  return { count: rows[0].count, oldestSeconds: rows[0].oldest };
}
