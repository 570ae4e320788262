// A fresh, migrated database on the Postgres server of a given URL, dropped when done: one per test
// file, per chaos run, per history capture. A test run migrates one template database once and
// copies it for each file (CREATE DATABASE ... TEMPLATE), instead of migrating every copy anew.
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

export interface ScratchDbOptions {
  /** The template to copy, created first if missing (ensureTemplateDb); without it, an empty database is migrated. */
  template?: string;
}

const adminUrl = (serverUrl: string): string => {
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  return admin.toString();
};

const dbUrl = (serverUrl: string, name: string): string => {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

const scratchName = (label: string): string =>
  `pipeline_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;

async function withAdmin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl(serverUrl) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * CREATE DATABASE, from `template` when given. Copying fails while any session is connected to the
 * template (55006): the template's own migrating pool may take a moment to disconnect, so retry.
 */
async function createDatabase(client: pg.Client, name: string, template?: string): Promise<void> {
  const sql = `CREATE DATABASE ${pg.escapeIdentifier(name)}${template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : ''}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(sql);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function createScratchDb(label: string, serverUrl: string, opts: ScratchDbOptions = {}): Promise<ScratchDb> {
  const name = scratchName(label);
  if (opts.template) await ensureTemplateDb(serverUrl, opts.template);
  await withAdmin(serverUrl, (client) => createDatabase(client, name, opts.template));
  const url = dbUrl(serverUrl, name);
  const pool = createPool({ connectionString: url, applicationName: label });
  // On a copy of the template this finds every migration applied and the regions seeded (a few
  // queries); it still brings a copy of an older template up to date.
  await prepareDatabase(loadConfig({ DATABASE_URL: url }), pool);
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      if (process.env.KEEP_TEST_DB) return;
      await dropDatabase(serverUrl, name);
    },
  };
}

/**
 * Drops the database and the Temporal databases named after it (`<name>_temporal_<region>` and
 * its visibility database: a system run with TEMPORAL_SERVER=postgres creates them).
 */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, async (c) => {
    const temporal = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [
      `${name}_temporal_`,
    ]);
    for (const db of [name, ...temporal.rows.map((r) => r.datname)]) {
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
    }
  });
}

// Any constant: serialises the processes that may create the template at the same time.
const TEMPLATE_LOCK = 7_415_002;

/**
 * Creates the template `name` (migrated and seeded) unless it exists: the first test database of a
 * run pays for the migrations, the others copy it. Nobody stays connected to it.
 */
export async function ensureTemplateDb(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      await createDatabase(client, name);
      const url = dbUrl(serverUrl, name);
      const pool = createPool({ connectionString: url, applicationName: 'test_template' });
      try {
        await prepareDatabase(loadConfig({ DATABASE_URL: url }), pool);
      } finally {
        await pool.end();
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
}

/** A name for a run's template database (created on first use by ensureTemplateDb). */
export const templateName = (label: string): string => scratchName(`${label}_template`);
