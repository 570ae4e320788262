// A Postgres connection killed while a transaction holds it (pg_terminate_backend, a server
// restart, a network cut) must fail that transaction, not crash the process: pg-pool takes its
// own 'error' listener off a client while it is checked out.
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDb, type TestDb } from '../helpers/db';

const ROOT = path.resolve(__dirname, '..', '..');
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('pool');
});
afterAll(() => db.drop());

// Run in a child process (from the built code): an unhandled 'error' event kills the process.
const script = `
  const pg = require('pg');
  const { createPool, withTransaction } = require(${JSON.stringify(path.join(ROOT, 'dist/src/db/pool.js'))});
  const url = process.argv[1];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    const pool = createPool({ connectionString: url, applicationName: 'pool-kill-test', max: 2 });
    const killer = new pg.Client({ connectionString: url });
    await killer.connect();
    const kill = (pid) => killer.query('SELECT pg_terminate_backend($1)', [pid]);
    let outcome;
    try {
      await withTransaction(pool, async (c) => {
        const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
        await kill(pid);
        await sleep(300); // idle between two queries: the server's FATAL arrives now
        await c.query('SELECT 1');
      });
      outcome = 'committed';
    } catch (err) {
      outcome = 'rejected';
    }
    // ...and killed in the middle of a query.
    let midQuery;
    try {
      await withTransaction(pool, async (c) => {
        const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
        setTimeout(() => void kill(pid), 200);
        await c.query('SELECT pg_sleep(5)');
      });
      midQuery = 'committed';
    } catch (err) {
      midQuery = 'rejected';
    }
    // The dead clients were not handed out again: the pool keeps working.
    const after = (await pool.query('SELECT 1 AS n')).rows[0].n;
    await killer.end();
    await pool.end();
    console.log(JSON.stringify({ outcome, midQuery, after }));
  })().catch((e) => { console.error(e); process.exit(1); });
`;

it('rejects a transaction whose connection is killed between two queries or during one, and the process lives on', async () => {
  const run = promisify(execFile)(process.execPath, ['-e', script, db.url], { timeout: 30_000 });
  const { stdout } = await run.catch((err: { code?: number; stderr?: string }) => {
    throw new Error(
      `the process died (exit ${err.code}): ${err.stderr
        ?.split('\n')
        .filter((l) => /error/i.test(l))
        .slice(0, 3)
        .join(' | ')}`,
    );
  });
  expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ outcome: 'rejected', midQuery: 'rejected', after: 1 });
});
