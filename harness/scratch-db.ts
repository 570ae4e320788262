// A fresh, migrated database on the Postgres server of a given URL, dropped when done: one per test
// file, per chaos run, per history capture.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { createPool, type Pool } from '../src/db/pool';
import { prepareDatabase } from '../src/db/prepare';

export interface ScratchDb {
  name: string;
  url: string;
  pool: Pool;
  /** Drops the database (kept when KEEP_TEST_DB is set, for inspection). */
  drop(): Promise<void>;
}

export async function createScratchDb(label: string, serverUrl: string): Promise<ScratchDb> {
  const name = `pipeline_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await client.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = createPool({ connectionString: url.toString(), applicationName: label });
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
