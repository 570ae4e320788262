// The HTTP API through app.inject against real Postgres. Temporal is deliberately unreachable:
// accepting must not depend on it (the relay starts workflows later).
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildTestApp, type TestApp } from '../helpers/app';
import { createTestDb, startsGivenBack, tableCounts, type TestDb } from '../helpers/db';

let db: TestDb;
let testApp: TestApp;
let app: FastifyInstance;
let recovered = 0;
const ADMIN_TOKEN = 'api-test-admin-token-0123456789';

beforeAll(async () => {
  db = await createTestDb('api');
  testApp = await buildTestApp(db, { ADMIN_TOKEN }, async () => recovered++);
  app = testApp.app;
});
afterAll(async () => {
  await testApp.close();
  await db.drop();
});

// Every call here is the operator's: auth itself is tested in auth.test.ts.
const inject = (o: InjectOptions) => app.inject({ ...o, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...o.headers } });

const submit = (sourceId: string, body: unknown, headers: Record<string, string> = {}) =>
  inject({ method: 'POST', url: `/v1/sources/${sourceId}/records`, payload: body as object, headers });

describe('POST /v1/sources/:sourceId/records', () => {
  it('accepts a batch with gap-free seqs, before Temporal is even reachable (the failed starts give their claims back)', async () => {
    const res = await submit('s1', {
      records: [
        { id: 'a', payload: { amount: 1 } },
        { id: 'b', payload: { amount: 2 } },
      ],
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      records: [
        { id: 'a', seq: 1, duplicate: false },
        { id: 'b', seq: 2, duplicate: false },
      ],
    });
    const more = await submit('s1', { records: [{ id: 'c', payload: {} }] });
    expect(more.json().records[0].seq).toBe(3);
    await startsGivenBack(db.pool);
    const rows = await db.pool.query("SELECT seq, record_id, status, epoch FROM records WHERE source_id = 's1' ORDER BY seq");
    expect(rows.rows).toEqual([
      { seq: 1, record_id: 'a', status: 'accepted', epoch: null },
      { seq: 2, record_id: 'b', status: 'accepted', epoch: null },
      { seq: 3, record_id: 'c', status: 'accepted', epoch: null },
    ]);
  });

  it('answers a resubmitted id with its original seq, whatever the key order of the payload', async () => {
    await submit('s2', { records: [{ id: 'x', payload: { a: 1, b: { c: 2, d: 3 } } }] });
    const again = await submit('s2', {
      records: [
        { id: 'x', payload: { b: { d: 3, c: 2 }, a: 1 } },
        { id: 'y', payload: {} },
        { id: 'y', payload: {} },
      ],
    });
    expect(again.statusCode).toBe(202);
    expect(again.json().records).toEqual([
      { id: 'x', seq: 1, duplicate: true },
      { id: 'y', seq: 2, duplicate: false },
      { id: 'y', seq: 2, duplicate: true },
    ]);
  });

  it('rejects the same id with another payload with 409 and writes nothing of the batch', async () => {
    await submit('s3', { records: [{ id: 'x', payload: { v: 1 } }] });
    const before = await tableCounts(db.pool);
    const res = await submit('s3', {
      records: [
        { id: 'new', payload: {} },
        { id: 'x', payload: { v: 2 } },
      ],
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'id_conflict', details: { ids: ['x'] } });
    const inBatch = await submit('s3', {
      records: [
        { id: 'z', payload: { v: 1 } },
        { id: 'z', payload: { v: 2 } },
      ],
    });
    expect(inBatch.statusCode).toBe(409);
    expect(await tableCounts(db.pool)).toEqual(before);
  });

  const big = 'x'.repeat(256 * 1024);
  const bad: [string, string, unknown, number, string][] = [
    ['a bad source id', 'bad%20id', { records: [{ id: 'a', payload: {} }] }, 400, 'invalid_request'],
    ['a too long source id', 'a'.repeat(129), { records: [{ id: 'a', payload: {} }] }, 400, 'invalid_request'],
    ['a bad client id', 'ok', { records: [{ id: 'a b', payload: {} }] }, 400, 'invalid_request'],
    ['a numeric client id', 'ok', { records: [{ id: 5, payload: {} }] }, 400, 'invalid_request'],
    ['a client id over 200 characters', 'ok', { records: [{ id: 'i'.repeat(201), payload: {} }] }, 400, 'invalid_request'],
    ['an array payload', 'ok', { records: [{ id: 'a', payload: [1] }] }, 400, 'invalid_request'],
    ['a string payload', 'ok', { records: [{ id: 'a', payload: 'text' }] }, 400, 'invalid_request'],
    ['a missing payload', 'ok', { records: [{ id: 'a' }] }, 400, 'invalid_request'],
    ['an empty batch', 'ok', { records: [] }, 400, 'invalid_request'],
    [
      'a batch over 1000',
      'ok',
      { records: Array.from({ length: 1001 }, (_, i) => ({ id: `r${i}`, payload: {} })) },
      400,
      'invalid_request',
    ],
    ['an unknown top-level field', 'ok', { records: [{ id: 'a', payload: {} }], extra: 1 }, 400, 'invalid_request'],
    ['an unknown record field', 'ok', { records: [{ id: 'a', payload: {}, seq: 4 }] }, 400, 'invalid_request'],
    ['a payload over 256 KiB', 'ok', { records: [{ id: 'a', payload: { big } }] }, 413, 'payload_too_large'],
  ];
  it.each(bad)('rejects %s with a clear error and writes nothing', async (_what, sourceId, body, status, code) => {
    const before = await tableCounts(db.pool);
    const res = await submit(sourceId, body);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ error: code, message: expect.any(String) });
    expect(await tableCounts(db.pool)).toEqual(before);
  });

  it('rejects malformed JSON, a non-JSON content type and an oversize body', async () => {
    const before = await tableCounts(db.pool);
    const malformed = await inject({
      method: 'POST',
      url: '/v1/sources/ok/records',
      payload: '{"records":[',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error).toBe('malformed_json');
    const text = await inject({
      method: 'POST',
      url: '/v1/sources/ok/records',
      payload: 'records',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toBe('unsupported_media_type');
    const huge = await inject({
      method: 'POST',
      url: '/v1/sources/ok/records',
      payload: JSON.stringify({ records: [{ id: 'a', payload: { s: 'y'.repeat(17 * 1024 * 1024) } }] }),
      headers: { 'content-type': 'application/json' },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error).toBe('body_too_large');
    expect(await tableCounts(db.pool)).toEqual(before);
  });
});

describe('reading', () => {
  it('accepts a source id of the maximum length (128)', async () => {
    const res = await submit('s'.repeat(128), { records: [{ id: 'i'.repeat(200), payload: {} }] });
    expect(res.statusCode).toBe(202);
  });

  it('shows a record, a source and its deliveries', async () => {
    await submit('r1', { records: [{ id: 'only', payload: { amount: 3 } }] });
    const rec = await inject({ method: 'GET', url: '/v1/sources/r1/records/1' });
    expect(rec.statusCode).toBe(200);
    expect(rec.json()).toMatchObject({
      sourceId: 'r1',
      seq: 1,
      id: 'only',
      status: 'accepted',
      stage: 'inbound',
      workflowId: 'record:r1:1',
      stages: {},
      deliveredAt: null,
    });
    const src = await inject({ method: 'GET', url: '/v1/sources/r1' });
    expect(src.json()).toMatchObject({ sourceId: 'r1', lastSeq: 1, watermarks: { inbound: 0, delivered: 0 }, blocked: null });
    const del = await inject({ method: 'GET', url: '/v1/sources/r1/deliveries?after=0&limit=10' });
    expect(del.json()).toEqual({ sourceId: 'r1', deliveries: [], next: null });
  });

  it('answers unknown things with 404 and bad parameters with 400', async () => {
    expect((await inject({ method: 'GET', url: '/v1/sources/nope' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/v1/sources/nope/records/1' })).json().error).toBe('record_not_found');
    expect((await inject({ method: 'GET', url: '/v1/sources/nope/deliveries' })).statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/v1/sources/r1/records/zero' })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/v1/sources/r1/deliveries?limit=5000' })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/v1/nothing' })).json()).toMatchObject({ error: 'not_found' });
  });

  it('refuses to skip or retry a record that is not blocked', async () => {
    const res = await inject({ method: 'POST', url: '/v1/sources/r1/records/1/skip' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toBe('not_blocked');
    expect((await inject({ method: 'POST', url: '/v1/sources/r1/records/9/retry' })).statusCode).toBe(404);
  });

  it('serves the OpenAPI document', async () => {
    const res = await inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json().paths)).toEqual(expect.arrayContaining(['/v1/sources/{sourceId}/records', '/healthz', '/readyz']));
  });
});

describe('admin', () => {
  it('injects and recovers faults, and rejects unknown regions and stages', async () => {
    const fail = await inject({ method: 'POST', url: '/v1/admin/faults', payload: { region: 'east', stage: 'core', action: 'fail' } });
    expect(fail.json()).toEqual({ region: 'east', stage: 'core', failed: true });
    expect((await inject({ method: 'GET', url: '/v1/admin/faults' })).json().faults).toHaveLength(1);
    await inject({ method: 'POST', url: '/v1/admin/faults', payload: { region: 'east', stage: 'core', action: 'recover' } });
    expect((await inject({ method: 'GET', url: '/v1/admin/faults' })).json().faults).toHaveLength(0);
    const bad = await inject({ method: 'POST', url: '/v1/admin/faults', payload: { region: 'north', stage: 'core', action: 'fail' } });
    expect(bad.statusCode).toBe(400);
    const badStage = await inject({ method: 'POST', url: '/v1/admin/faults', payload: { region: 'east', stage: 'nope', action: 'fail' } });
    expect(badStage.statusCode).toBe(400);
  });

  it('reports no workers and refuses control when not run by the supervisor', async () => {
    expect((await inject({ method: 'GET', url: '/v1/admin/workers' })).json()).toEqual({ supervised: false, workers: [] });
    expect((await inject({ method: 'POST', url: '/v1/admin/workers/east/core/stop' })).statusCode).toBe(503);
    expect((await inject({ method: 'POST', url: '/v1/admin/workers/east/kitchen/stop' })).statusCode).toBe(400);
  });

  it('fails over by hand: new epoch, the old region fenced, recovery started', async () => {
    const before = await tableCounts(db.pool);
    const res = await inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: 'west' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ from: 'east', to: 'west', epoch: 2 });
    expect(recovered).toBe(1);
    const regions = await db.pool.query('SELECT name, active, epoch FROM regions ORDER BY name');
    expect(regions.rows).toEqual([
      { name: 'east', active: false, epoch: 2 },
      { name: 'west', active: true, epoch: 2 },
    ]);
    const status = await inject({ method: 'GET', url: '/v1/admin/regions' });
    expect(status.json()).toMatchObject({
      active: 'west',
      epoch: 2,
      regions: [
        { name: 'east', healthy: false },
        { name: 'west', active: true },
      ],
    });
    const back = await inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: 'east' } });
    expect(back.json()).toMatchObject({ from: 'west', to: 'east', epoch: 3 });
    expect(await tableCounts(db.pool)).toEqual(before);
  });

  it('refuses bad failover requests with a clear 4xx and changes nothing', async () => {
    const regions = async () => (await db.pool.query('SELECT name, active, epoch FROM regions ORDER BY name')).rows;
    const before = await regions();
    const unknown = await inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: 'north' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toBe('unknown_region');
    const same = await inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: before.find((r) => r.active).name } });
    expect(same.statusCode).toBe(409);
    expect(same.json().error).toBe('already_active');
    expect((await inject({ method: 'POST', url: '/v1/admin/failover', payload: {} })).statusCode).toBe(400);
    expect((await inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: 'west', now: true } })).statusCode).toBe(400);
    expect(await regions()).toEqual(before);
    // Two at once to the same region: exactly one switch happens.
    const both = await Promise.all([0, 1].map(() => inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: 'west' } })));
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const after = await regions();
    expect(after.find((r) => r.active).name).toBe('west');
    expect(after[0].epoch).toBe(before[0].epoch + 1);
    await inject({ method: 'POST', url: '/v1/admin/failover', payload: { to: 'east' } });
  });

  it('is live (/healthz 200) and accepting (/readyz 200, degraded, with the reason) when Temporal does not answer', async () => {
    const live = await app.inject({ method: 'GET', url: '/healthz' });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toMatchObject({ status: 'ok', pid: process.pid });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'degraded', activeRegion: 'east' });
    const checks = res.json().checks as { name: string; ok: boolean; latencyMs: number; reason?: string }[];
    expect(checks.find((c) => c.name === 'postgres')).toMatchObject({ ok: true, latencyMs: expect.any(Number) });
    expect(checks.find((c) => c.name === 'temporal:east')).toMatchObject({ ok: false, reason: expect.stringContaining('127.0.0.1:1') });
  });
});
