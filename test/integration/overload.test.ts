// Overload through a listening server on loopback: the in-flight bound answers 503, the per-key rate
// limit 429, and every accepted record is in Postgres exactly once. Correctness only; the numbers
// come from `npm run overload`.
import { createTestDb, type TestDb } from '../helpers/db';
import { buildTestApp, type TestApp } from '../helpers/app';
import { runOverload, verifyAccepted } from '../../scripts/overload';

const ADMIN = 'overload-test-admin-token-0123456789';
let db: TestDb;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDb('overload');
  t = await buildTestApp(db, { ADMIN_TOKEN: ADMIN, SUBMIT_MAX_INFLIGHT: '2', RATE_LIMIT_PER_MINUTE: '60' });
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

it('answers overload with 503 and 429, writes nothing for them, and keeps every 202 exactly once', async () => {
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const result = await runOverload({ url, adminToken: ADMIN, sources: 4, clients: 48, batch: 10, durationMs: 20_000, maxRequests: 400 });
  const count = (status: number) => result.byStatus[String(status)]?.count ?? 0;
  expect(result.malformed).toEqual([]);
  expect(count(202)).toBeGreaterThan(0);
  expect(count(503)).toBeGreaterThan(0);
  // 60 a minute per key, 4 keys: at most 240 of the 400 get past the rate limit.
  expect(count(429)).toBeGreaterThanOrEqual(result.sent - 240);
  expect(count(202) + count(503) + count(429)).toBe(result.sent);
  expect(await verifyAccepted(db.pool, result)).toEqual([]);
  const accepted = [...result.accepted.values()].reduce((n, m) => n + m.size, 0);
  expect(accepted).toBe(count(202) * 10);
});
