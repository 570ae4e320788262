// Who may do what, and the limits, through app.inject and through a listening server, against a
// real Postgres.
import type { InjectOptions } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import { startServer } from '../../src/api/server';
import { ConfigError, loadConfig } from '../../src/config';
import { createTestDb, tableCounts, type TestDb } from '../helpers/db';
import { buildTestApp, type TestApp } from '../helpers/app';
import { api, submit } from '../helpers/system';

const ADMIN = 'auth-test-admin-token-abcdefghijklmnop';
let db: TestDb;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDb('auth');
  t = await buildTestApp(db, { ADMIN_TOKEN: ADMIN });
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

const as = (token: string | undefined, o: InjectOptions) =>
  t.app.inject({ ...o, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...o.headers } });
const batch = (...ids: string[]) => ({ records: ids.map((id) => ({ id, payload: { id } })) });
const createKey = async (sourceId: string) => {
  const res = await as(ADMIN, { method: 'POST', url: `/v1/admin/sources/${sourceId}/keys` });
  expect(res.statusCode).toBe(201);
  return res.json<{ keyId: string; key: string }>();
};

describe('credentials', () => {
  it('answers a missing or wrong token with 401, WWW-Authenticate and one message, and writes nothing', async () => {
    const before = await tableCounts(db.pool);
    const missing = await as(undefined, { method: 'POST', url: '/v1/sources/a/records', payload: batch('x') });
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="record-pipeline"');
    expect(missing.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
    const answers = [];
    for (const header of [
      'Bearer wrong-token',
      `Bearer ${ADMIN}x`,
      `Basic ${Buffer.from('admin:x').toString('base64')}`,
      `bearer ${ADMIN.slice(1)}`,
      'Bearer k_0123456789abcdef.' + 'A'.repeat(43),
      'Bearer',
    ]) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/sources/a', headers: { authorization: header } });
      expect({ header, status: res.statusCode }).toEqual({ header, status: 401 });
      answers.push(res.json().message);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="record-pipeline"/);
    }
    expect(new Set(answers).size).toBe(1);
    expect(await tableCounts(db.pool)).toEqual(before);
  });

  it('lets the admin token do everything, with the scheme in any case', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/faults', headers: { authorization: `bearer ${ADMIN}` } })).statusCode).toBe(
      200,
    );
    expect((await as(ADMIN, { method: 'POST', url: '/v1/sources/adm/records', payload: batch('x') })).statusCode).toBe(202);
    expect((await as(ADMIN, { method: 'GET', url: '/v1/sources/adm' })).statusCode).toBe(200);
  });

  it('keeps /healthz and /docs public', async () => {
    expect((await as(undefined, { method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    // 503 here because Temporal is unreachable on purpose: the point is that it is not 401.
    expect([200, 503]).toContain((await as(undefined, { method: 'GET', url: '/healthz' })).statusCode);
    // An unknown route says nothing to a stranger.
    expect((await as(undefined, { method: 'GET', url: '/v1/secret' })).statusCode).toBe(401);
  });
});

describe('source keys', () => {
  it('are created once, stored only as a hash, and listed without the key', async () => {
    const { keyId, key } = await createKey('a');
    expect(keyId).toMatch(/^k_[0-9a-f]{16}$/);
    expect(key.startsWith(`${keyId}.`)).toBe(true);
    const { rows } = await db.pool.query('SELECT * FROM source_keys WHERE key_id = $1', [keyId]);
    expect(rows[0].key_hash.equals(createHash('sha256').update(key).digest())).toBe(true);
    expect(JSON.stringify(rows[0])).not.toContain(key.split('.')[1]);
    const list = await as(ADMIN, { method: 'GET', url: '/v1/admin/sources/a/keys' });
    expect(list.json().keys).toContainEqual({ keyId, createdAt: expect.any(String), lastUsedAt: null, revokedAt: null });
    expect(list.body).not.toContain(key.split('.')[1]);
  });

  it('submit to and read their own source only; 403 elsewhere, the same whether a source exists or not', async () => {
    const { keyId, key } = await createKey('a');
    const own = await as(key, { method: 'POST', url: '/v1/sources/a/records', payload: batch('k1', 'k2') });
    expect(own.statusCode).toBe(202);
    expect((await as(key, { method: 'GET', url: '/v1/sources/a' })).statusCode).toBe(200);
    expect((await as(key, { method: 'GET', url: '/v1/sources/a/records/1' })).statusCode).toBe(200);
    expect((await as(key, { method: 'GET', url: '/v1/sources/a/deliveries' })).statusCode).toBe(200);
    // Operator actions on its own source stay admin-only.
    expect((await as(key, { method: 'POST', url: '/v1/sources/a/records/1/skip' })).statusCode).toBe(403);

    await as(ADMIN, { method: 'POST', url: '/v1/sources/exists/records', payload: batch('e') });
    const before = await tableCounts(db.pool);
    const denied = [
      await as(key, { method: 'POST', url: '/v1/sources/exists/records', payload: batch('z') }),
      await as(key, { method: 'POST', url: '/v1/sources/nothere/records', payload: batch('z') }),
      await as(key, { method: 'GET', url: '/v1/sources/exists' }),
      await as(key, { method: 'GET', url: '/v1/sources/nothere' }),
      await as(key, { method: 'GET', url: '/v1/sources/exists/records/1' }),
      await as(key, { method: 'GET', url: '/v1/sources/nothere/records/1' }),
      await as(key, { method: 'GET', url: '/v1/admin/regions' }),
      await as(key, { method: 'POST', url: '/v1/admin/failover', payload: { to: 'west' } }),
      await as(key, { method: 'POST', url: '/v1/admin/faults', payload: { region: 'east', stage: 'core', action: 'fail' } }),
      await as(key, { method: 'POST', url: '/v1/admin/sources/a/keys' }),
      await as(key, { method: 'GET', url: '/v1/admin/sources/a/keys' }),
      await as(key, { method: 'DELETE', url: `/v1/admin/sources/a/keys/${keyId}` }),
      await as(key, { method: 'GET', url: '/v1/unknown' }),
    ];
    for (const res of denied) expect(res.statusCode).toBe(403);
    expect(new Set(denied.map((r) => r.body)).size).toBe(1);
    expect(await tableCounts(db.pool)).toEqual(before);
    expect(
      (await db.pool.query('SELECT count(*)::int AS n FROM source_keys WHERE revoked_at IS NOT NULL AND key_id = $1', [keyId])).rows[0].n,
    ).toBe(0);
  });

  it('record their last use', async () => {
    const { keyId, key } = await createKey('used');
    await as(key, { method: 'GET', url: '/v1/sources/used/deliveries' });
    await new Promise((r) => setTimeout(r, 100)); // the touch is written after the answer
    const list = (await as(ADMIN, { method: 'GET', url: '/v1/admin/sources/used/keys' })).json();
    expect(list.keys.find((k: { keyId: string }) => k.keyId === keyId).lastUsedAt).toEqual(expect.any(String));
  });

  it('are revoked at once; a tampered key or a key of another source is refused', async () => {
    const { keyId, key } = await createKey('b');
    const other = await createKey('c');
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect((await as(tampered, { method: 'GET', url: '/v1/sources/b/deliveries' })).statusCode).toBe(401);
    expect((await as(key, { method: 'POST', url: '/v1/sources/b/records', payload: batch('r') })).statusCode).toBe(202);
    // A key id under another source's path is not found and stays live.
    expect((await as(ADMIN, { method: 'DELETE', url: `/v1/admin/sources/c/keys/${keyId}` })).statusCode).toBe(404);
    expect((await as(ADMIN, { method: 'DELETE', url: '/v1/admin/sources/b/keys/k_ffffffffffffffff' })).statusCode).toBe(404);
    expect((await as(ADMIN, { method: 'DELETE', url: '/v1/admin/sources/b/keys/not-a-key' })).statusCode).toBe(400);
    const revoked = await as(ADMIN, { method: 'DELETE', url: `/v1/admin/sources/b/keys/${keyId}` });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ keyId, revokedAt: expect.any(String) });
    const after = await as(key, { method: 'POST', url: '/v1/sources/b/records', payload: batch('s') });
    expect(after.statusCode).toBe(401);
    expect(after.headers['www-authenticate']).toContain('invalid_token');
    expect((await db.pool.query("SELECT count(*)::int AS n FROM records WHERE source_id = 'b'")).rows[0].n).toBe(1);
    expect((await as(other.key, { method: 'POST', url: '/v1/sources/c/records', payload: batch('c') })).statusCode).toBe(202);
    const list = (await as(ADMIN, { method: 'GET', url: '/v1/admin/sources/b/keys' })).json();
    expect(list.keys.find((k: { keyId: string }) => k.keyId === keyId).revokedAt).toEqual(expect.any(String));
  });
});

describe('limits', () => {
  it('refuses deep nesting, NUL and unpaired surrogates, and huge numbers in ids, and writes nothing', async () => {
    const before = await tableCounts(db.pool);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const cases: [unknown, string][] = [
      [{ records: [{ id: 'd', payload: deep }] }, 'too_deep'],
      [{ records: [{ id: 'n', payload: { s: 'a\u0000b' } }] }, 'invalid_text'],
      [{ records: [{ id: 'n', payload: { 'k\u0000': 1 } }] }, 'invalid_text'],
    ];
    for (const [body, code] of cases) {
      const res = await as(ADMIN, {
        method: 'POST',
        url: '/v1/sources/lim/records',
        payload: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe(code);
    }
    const lone = await as(ADMIN, {
      method: 'POST',
      url: '/v1/sources/lim/records',
      payload: '{"records":[{"id":"s","payload":{"s":"\\ud800"}}]}',
      headers: { 'content-type': 'application/json' },
    });
    expect(lone.json().error).toBe('invalid_text');
    expect((await as(ADMIN, { method: 'GET', url: '/v1/sources/lim/records/99999999999999999999' })).statusCode).toBe(400);
    expect((await as(ADMIN, { method: 'GET', url: '/v1/sources/lim/deliveries?after=1e300' })).statusCode).toBe(400);
    expect(await tableCounts(db.pool)).toEqual(before);
  });

  it('rate-limits per source key with 429 and Retry-After, and not the admin', async () => {
    const limited = await buildTestApp(db, { ADMIN_TOKEN: ADMIN, RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const mk = async (s: string) =>
        (
          await limited.app.inject({ method: 'POST', url: `/v1/admin/sources/${s}/keys`, headers: { authorization: `Bearer ${ADMIN}` } })
        ).json().key as string;
      const [k1, k2] = [await mk('rl1'), await mk('rl2')];
      const get = (k: string, s: string) =>
        limited.app.inject({ method: 'GET', url: `/v1/sources/${s}/deliveries`, headers: { authorization: `Bearer ${k}` } });
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await get(k1, 'rl1')).statusCode);
      expect(codes).toEqual([404, 404, 404, 429, 429]);
      const res = await get(k1, 'rl1');
      expect(res.json()).toMatchObject({ error: 'rate_limited', message: expect.any(String) });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect((await get(k2, 'rl2')).statusCode).toBe(404);
      for (let i = 0; i < 6; i++) expect((await get(ADMIN, 'rl1')).statusCode).toBe(404);
    } finally {
      await limited.close();
    }
  });

  it('cuts off a key-guessing loop with 429 and Retry-After, while valid keys from the same address keep working', async () => {
    const guarded = await buildTestApp(db, { ADMIN_TOKEN: ADMIN, AUTH_FAILURES_PER_MINUTE: '5' });
    try {
      const get = (token: string) =>
        guarded.app.inject({ method: 'GET', url: '/v1/sources/guard/deliveries', headers: { authorization: `Bearer ${token}` } });
      const key = (
        await guarded.app.inject({ method: 'POST', url: '/v1/admin/sources/guard/keys', headers: { authorization: `Bearer ${ADMIN}` } })
      ).json().key as string;
      // Valid keys are not counted: many of them first, then the guesses.
      for (let i = 0; i < 8; i++) expect((await get(key)).statusCode).toBe(404);
      const guess = () => `k_${randomBytes(8).toString('hex')}.${randomBytes(32).toString('base64url')}`;
      const codes = [];
      for (let i = 0; i < 9; i++) codes.push((await get(guess())).statusCode);
      expect(codes).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429]);
      const refused = await get(guess());
      expect(refused.json()).toEqual({ error: 'rate_limited', message: expect.any(String) });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await get('')).statusCode).toBe(429);
      // The same address with a valid key or the admin token is never refused by this limit.
      expect((await get(key)).statusCode).toBe(404);
      expect((await get(ADMIN)).statusCode).toBe(404);
      expect((await get(guess())).statusCode).toBe(429);
    } finally {
      await guarded.close();
    }
  });

  it('answers 503 at once when the in-flight bound is reached, and writes nothing for it', async () => {
    const bounded = await buildTestApp(db, { ADMIN_TOKEN: ADMIN, SUBMIT_MAX_INFLIGHT: '1' });
    await as(ADMIN, { method: 'POST', url: '/v1/sources/busy/records', payload: batch('first') });
    // Hold the source's row lock so that one submit stays in flight.
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT 1 FROM sources WHERE source_id = 'busy' FOR UPDATE");
      const send = (id: string) =>
        bounded.app.inject({
          method: 'POST',
          url: '/v1/sources/busy/records',
          payload: batch(id),
          headers: { authorization: `Bearer ${ADMIN}` },
        });
      const stuck = send('held');
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const refused = await send('refused');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json().error).toBe('overloaded');
      await holder.query('COMMIT');
      expect((await stuck).statusCode).toBe(202);
      expect((await send('later')).statusCode).toBe(202);
    } finally {
      holder.release();
      await bounded.close();
    }
    const ids = (await db.pool.query("SELECT record_id FROM records WHERE source_id = 'busy' ORDER BY seq")).rows.map((r) => r.record_id);
    expect(ids).toEqual(['first', 'held', 'later']);
  });

  it('with AUTH=off takes every caller as admin', async () => {
    const open = await buildTestApp(db, { AUTH: 'off' });
    try {
      expect((await open.app.inject({ method: 'GET', url: '/v1/admin/faults' })).statusCode).toBe(200);
    } finally {
      await open.close();
    }
  });

  it('the API process refuses to start with AUTH on and no ADMIN_TOKEN', async () => {
    await expect(startServer(loadConfig({ DATABASE_URL: db.url }))).rejects.toThrow(ConfigError);
  });
});

describe('over real HTTP', () => {
  it('401 without a token, 201 for a new key, 202 on its source, 403 on another, 401 once revoked', async () => {
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const none = await submit<{ error: string }>(url, 'h', batch('x').records, { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="record-pipeline"');
    const created = await api<{ keyId: string; key: string }>(`${url}/v1/admin/sources/h/keys`, 'POST', undefined, { token: ADMIN });
    expect(created.status).toBe(201);
    const { key, keyId } = created.body;
    expect((await submit(url, 'h', batch('x').records, { token: key })).status).toBe(202);
    expect((await submit(url, 'other', batch('x').records, { token: key })).status).toBe(403);
    expect((await api(`${url}/v1/admin/regions`, 'GET', undefined, { token: key })).status).toBe(403);
    expect((await api(`${url}/v1/admin/sources/h/keys/${keyId}`, 'DELETE', undefined, { token: ADMIN })).status).toBe(200);
    expect((await api(`${url}/v1/sources/h`, 'GET', undefined, { token: key })).status).toBe(401);
  });
});
