// A database per test file, a copy of the run's migrated template (test/global-setup.ts), dropped
// afterwards (kept with KEEP_TEST_DB=1).
import type { Pool } from '../../src/db/pool';
import { createScratchDb, type ScratchDb } from '../../harness/scratch-db';

export type TestDb = ScratchDb;

export function createTestDb(label: string): Promise<TestDb> {
  return createScratchDb(`test_${label}`, process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/pipeline', {
    template: process.env.TEST_TEMPLATE_DB,
  });
}

/**
 * Waits until no record of the database is claimed for a start that did not happen: with Temporal
 * unreachable, each start's claim (epoch, status processing) is given back once the start fails.
 */
export async function startsGivenBack(pool: Pool, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{
      n: number;
    }>(`SELECT count(*)::int AS n FROM records WHERE status = 'processing' AND epoch IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM stage_inbound s WHERE s.source_id = records.source_id AND s.seq = records.seq)`);
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error(`${rows[0].n} records still claimed for a start after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function tableCounts(pool: Pool): Promise<Record<string, number>> {
  const tables = [
    'sources',
    'records',
    'watermarks',
    'stage_inbound',
    'stage_preprocess',
    'stage_core',
    'stage_postprocess',
    'stage_outbound',
    'deliveries',
    'faults',
    'dead_letters',
  ];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
  return out;
}
