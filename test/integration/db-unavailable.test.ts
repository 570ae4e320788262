// The API when Postgres refuses its connections (here a role at its connection limit: SQLSTATE
// 53300, what a full server answers): 503 with Retry-After and a clear code, not 500.
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, type TestApp } from '../helpers/app';
import { createTestDb, tableCounts, type TestDb } from '../helpers/db';

const ROLE = 'pipeline_test_no_connections';
const ADMIN_TOKEN = 'db-unavailable-admin-token-0123456789';
let db: TestDb;
let refused: pg.Pool;
let testApp: TestApp;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDb('dbdown');
  await db.pool.query(`DROP ROLE IF EXISTS ${ROLE}`);
  await db.pool.query(`CREATE ROLE ${ROLE} LOGIN`);
  await db.pool.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${ROLE}`);
  await db.pool.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${ROLE}`);
  await db.pool.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ${ROLE}`);
  const url = new URL(db.url);
  url.username = ROLE;
  refused = new pg.Pool({ connectionString: url.toString(), connectionTimeoutMillis: 2_000 });
  refused.on('error', () => undefined);
  testApp = await buildTestApp({ ...db, pool: refused }, { ADMIN_TOKEN });
  app = testApp.app;
  await app.ready();
  // Up and running; from now on the server refuses this role's new connections, and its open
  // ones are ended (the pool drops them).
  await db.pool.query(`ALTER ROLE ${ROLE} CONNECTION LIMIT 0`);
  await db.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [ROLE]);
});
afterAll(async () => {
  await testApp?.close();
  // The role's privileges live in this database only: drop them, then the role, then the database.
  await db.pool.query(`DROP OWNED BY ${ROLE}`);
  await db.pool.query(`DROP ROLE ${ROLE}`);
  await db.drop();
});

it('answers 503 database_unavailable with Retry-After when Postgres refuses connections, and writes nothing', async () => {
  const before = await tableCounts(db.pool);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/sources/s1/records',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { records: [{ id: 'a', payload: {} }] },
  });
  expect(res.statusCode).toBe(503);
  expect(res.headers['retry-after']).toBe('1');
  expect(res.json()).toMatchObject({ error: 'database_unavailable' });
  expect(await tableCounts(db.pool)).toEqual(before);
});
