// A database per test file, migrated, dropped afterwards (kept with KEEP_TEST_DB=1).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config';
import { createPool, type Pool } from '../../src/db/pool';
import { prepareDatabase } from '../../src/db/prepare';

export interface TestDb {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

function baseUrl(): URL {
  return new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/pipeline');
}

export async function createTestDb(label: string): Promise<TestDb> {
  const name = `pipeline_test_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
  const admin = baseUrl();
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await client.end();
  const url = baseUrl();
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), applicationName: `test-${label}` });
  await prepareDatabase(loadConfig({ DATABASE_URL: url.toString() }), pool);
  return {
    name,
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      if (process.env.KEEP_TEST_DB) return;
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function tableCounts(pool: Pool): Promise<Record<string, number>> {
  const tables = ['sources', 'records', 'watermarks', 'stage_inbound', 'stage_preprocess', 'stage_core', 'stage_postprocess', 'stage_outbound', 'deliveries', 'faults', 'dead_letters'];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
  return out;
}
