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
