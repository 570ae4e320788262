// Months of finished traffic, added by SQL in the shape of the migrations: `records` finished
// records spread over `sources` new sources, each with its five stage rows, its delivery and its
// watermarks at its last seq; every 500th record skipped instead (a dead letter, no stage rows from
// its stage on). For the bench's large-database runs and the tests of what must not grow with history.
import type { Pool } from '../src/db/pool';

export interface Prefill {
  records: number;
  sources: number;
  /** Source ids are `${prefix}-00001`...; the records finished `ageDays` ago and earlier. */
  prefix?: string;
  ageDays?: number;
}

const STAGE_TABLES = ['stage_inbound', 'stage_preprocess', 'stage_core', 'stage_postprocess', 'stage_outbound'];

/** Inserts the records in batches of sources (one transaction each); returns the seconds it took. */
export async function prefill(pool: Pool, p: Prefill, progress?: (done: number) => void): Promise<number> {
  const started = Date.now();
  const prefix = p.prefix ?? 'prefill';
  const perSource = Math.max(1, Math.floor(p.records / p.sources));
  const ageDays = p.ageDays ?? 30;
  const { rows } = await pool.query<{ name: string; epoch: string }>('SELECT name, epoch FROM regions WHERE active');
  const region = rows[0]?.name ?? 'east';
  const epoch = Number(rows[0]?.epoch ?? 1);
  // Each batch about 100,000 records, so a transaction stays short.
  const step = Math.max(1, Math.floor(100_000 / perSource));
  for (let from = 1; from <= p.sources; from += step) {
    const to = Math.min(p.sources, from + step - 1);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // r: one row per record; its times spread over the ageDays before now, oldest seq first.
      await client.query(
        `CREATE TEMP TABLE prefill_rows ON COMMIT DROP AS
         SELECT $1 || '-' || lpad(s::text, 5, '0') AS source_id, q AS seq,
                now() - make_interval(days => $3) - make_interval(secs => ($2 - q) * 60) AS at,
                (s * $2 + q) % 500 = 0 AS skipped
           FROM generate_series($4::int, $5::int) s, generate_series(1, $2::int) q`,
        [prefix, perSource, ageDays, from, to],
      );
      await client.query(
        `INSERT INTO sources (source_id, last_seq, created_at)
         SELECT $1 || '-' || lpad(s::text, 5, '0'), $2, now() - make_interval(days => $3 + 1)
           FROM generate_series($4::int, $5::int) s`,
        [prefix, perSource, ageDays, from, to],
      );
      await client.query(
        `INSERT INTO records (source_id, seq, record_id, payload, payload_hash, accepted_at, status, region, epoch, started_at, finished_at,
                              blocked_stage, blocked_reason)
         SELECT source_id, seq, 'rec-' || seq, '{"n": 1}', md5(source_id || seq), at,
                CASE WHEN skipped THEN 'skipped' ELSE 'delivered' END, $1, $2, at, at + interval '1 second',
                CASE WHEN skipped THEN 'core' END, CASE WHEN skipped THEN 'prefilled' END
           FROM prefill_rows`,
        [region, epoch],
      );
      for (const [i, table] of STAGE_TABLES.entries()) {
        // A skipped record stopped at core: rows before it only.
        const filter = i < 2 ? '' : 'WHERE NOT skipped';
        await client.query(
          `INSERT INTO ${table} (source_id, seq, region, epoch, written_at, output)
           SELECT source_id, seq, $1, $2, at + make_interval(secs => ${(i + 1) * 0.1}), '{"n": 1}' FROM prefill_rows ${filter}`,
          [region, epoch],
        );
      }
      await client.query(
        `INSERT INTO deliveries (source_id, seq, region, epoch, delivered_at, output)
         SELECT source_id, seq, $1, $2, at + interval '1 second', '{"n": 1}' FROM prefill_rows WHERE NOT skipped`,
        [region, epoch],
      );
      await client.query(
        `INSERT INTO dead_letters (source_id, seq, stage, reason, skipped_at)
         SELECT source_id, seq, 'core', 'prefilled', at + interval '1 second' FROM prefill_rows WHERE skipped`,
      );
      await client.query(
        `INSERT INTO watermarks (source_id, stage, watermark, updated_at)
         SELECT $1 || '-' || lpad(s::text, 5, '0'), st, $2, now() - make_interval(days => $3)
           FROM generate_series($4::int, $5::int) s, unnest($6::text[]) st`,
        [prefix, perSource, ageDays, from, to, ['inbound', 'preprocess', 'core', 'postprocess', 'outbound']],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    progress?.(to * perSource);
  }
  await pool.query('ANALYZE');
  return (Date.now() - started) / 1000;
}
