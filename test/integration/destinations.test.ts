// PUT and GET /v1/admin/sources/:sourceId/destination through app.inject against real Postgres:
// what is stored, what is shown (never the secret), what is refused (nothing stored then), and who
// may call them.
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { buildTestApp, type TestApp } from '../helpers/app';
import { createTestDb, startsGivenBack, type TestDb } from '../helpers/db';

const ADMIN = 'destinations-test-admin-token-0123456789';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const HOOK = 'https://hooks.example.com/pipeline?team=a';

let db: TestDb;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDb('destinations');
  t = await buildTestApp(db, { ADMIN_TOKEN: ADMIN });
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

const as = (app: TestApp, token: string | undefined, o: InjectOptions) =>
  app.app.inject({ ...o, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...o.headers } });
const put = (sourceId: string, body: unknown, app = t) =>
  as(app, ADMIN, { method: 'PUT', url: `/v1/admin/sources/${sourceId}/destination`, payload: body as object });
const get = (sourceId: string, app = t) => as(app, ADMIN, { method: 'GET', url: `/v1/admin/sources/${sourceId}/destination` });
const stored = async (sourceId: string): Promise<unknown> =>
  (await db.pool.query('SELECT destination FROM sources WHERE source_id = $1', [sourceId])).rows[0]?.destination;

describe('setting a destination', () => {
  it('stores a webhook with its secret, and shows it without the secret', async () => {
    const res = await put('hooked', { type: 'webhook', url: HOOK, secret: SECRET });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sourceId: 'hooked', type: 'webhook', url: HOOK, secretSet: true });
    expect(await stored('hooked')).toEqual({ type: 'webhook', url: HOOK, secret: SECRET, setAt: expect.any(String) });
    const shown = await get('hooked');
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toEqual({ sourceId: 'hooked', type: 'webhook', url: HOOK, secretSet: true });
    expect(res.body + shown.body).not.toContain(SECRET.slice(6));
  });

  it('stores the table as {} and replaces a webhook with it', async () => {
    const res = await put('hooked', { type: 'table' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sourceId: 'hooked', type: 'table' });
    expect(await stored('hooked')).toEqual({});
    expect((await get('hooked')).json()).toEqual({ sourceId: 'hooked', type: 'table' });
  });

  it('creates a source that has no row yet, which then takes records as any other', async () => {
    expect((await get('fresh')).statusCode).toBe(404);
    expect((await put('fresh', { type: 'webhook', url: HOOK, secret: SECRET })).statusCode).toBe(200);
    const sub = await as(t, ADMIN, { method: 'POST', url: '/v1/sources/fresh/records', payload: { records: [{ id: 'a', payload: {} }] } });
    expect(sub.statusCode).toBe(202);
    expect(sub.json().records[0].seq).toBe(1);
    await startsGivenBack(db.pool);
    const source = await as(t, ADMIN, { method: 'GET', url: '/v1/sources/fresh' });
    expect(source.json()).toMatchObject({ lastSeq: 1, watermarks: { inbound: 0, outbound: 0, delivered: 0 } });
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM watermarks WHERE source_id = 'fresh'");
    expect(rows[0].n).toBe(5);
    // The destination is the one set, not reset by the first submit.
    expect(await stored('fresh')).toEqual({ type: 'webhook', url: HOOK, secret: SECRET, setAt: expect.any(String) });
  });

  it('shows the table for a source that exists with no destination set', async () => {
    await as(t, ADMIN, { method: 'POST', url: '/v1/sources/plain/records', payload: { records: [{ id: 'a', payload: {} }] } });
    expect((await get('plain')).json()).toEqual({ sourceId: 'plain', type: 'table' });
  });

  it('shows a webhook disabled by a 410, and a PUT enables it again', async () => {
    await put('gone', { type: 'webhook', url: HOOK, secret: SECRET });
    // As the outbound stage writes it on a 410: Postgres's own text of a timestamptz.
    const at = '2030-01-02T03:04:05.000Z';
    await db.pool.query(
      `UPDATE sources SET destination = destination || jsonb_build_object('disabledAt', $2::timestamptz, 'disabledReason', '410 Gone') WHERE source_id = $1`,
      ['gone', at],
    );
    expect((await get('gone')).json()).toEqual({
      sourceId: 'gone',
      type: 'webhook',
      url: HOOK,
      secretSet: true,
      disabledAt: at,
      disabledReason: '410 Gone',
    });
    const again = await put('gone', { type: 'webhook', url: HOOK, secret: SECRET });
    expect(again.json()).toEqual({ sourceId: 'gone', type: 'webhook', url: HOOK, secretSet: true });
    expect(await stored('gone')).toEqual({ type: 'webhook', url: HOOK, secret: SECRET, setAt: expect.any(String) });
  });

  it('answers 404 source_not_found for a source that does not exist', async () => {
    const res = await get('nowhere');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'source_not_found', message: 'no source nowhere' });
  });
});

describe('a refused destination', () => {
  const secret = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;
  const refused: [string, unknown, string][] = [
    ['a scheme other than http(s)', { type: 'webhook', url: 'ftp://hooks.example.com/x', secret: SECRET }, 'url_scheme'],
    ['plain http to a host not listed', { type: 'webhook', url: 'http://hooks.example.com/x', secret: SECRET }, 'url_scheme'],
    ['credentials in the URL', { type: 'webhook', url: 'https://user:pw@hooks.example.com/x', secret: SECRET }, 'url_credentials'],
    ['a fragment', { type: 'webhook', url: 'https://hooks.example.com/x#y', secret: SECRET }, 'url_fragment'],
    ['a loopback host not listed', { type: 'webhook', url: 'https://127.0.0.1:8443/x', secret: SECRET }, 'host_not_allowed'],
    ['localhost not listed', { type: 'webhook', url: 'http://localhost:8080/x', secret: SECRET }, 'host_not_allowed'],
    ['a private host not listed', { type: 'webhook', url: 'https://[fd00::1]/x', secret: SECRET }, 'host_not_allowed'],
    ['a URL that does not parse', { type: 'webhook', url: 'not a url', secret: SECRET }, 'invalid_url'],
    ['a URL too long', { type: 'webhook', url: `https://hooks.example.com/${'a'.repeat(2048)}`, secret: SECRET }, 'url_too_long'],
    ['a secret too short', { type: 'webhook', url: HOOK, secret: secret(16) }, 'invalid_secret'],
    ['a secret too long', { type: 'webhook', url: HOOK, secret: secret(65) }, 'invalid_secret'],
    ['a secret without whsec_', { type: 'webhook', url: HOOK, secret: randomBytes(32).toString('base64') }, 'invalid_secret'],
    ['an unknown type', { type: 'email', to: 'ops@example.com' }, 'invalid_request'],
    ['a webhook without a secret', { type: 'webhook', url: HOOK }, 'invalid_request'],
    ['a table with a URL', { type: 'table', url: HOOK }, 'invalid_request'],
    ['a webhook with an extra field', { type: 'webhook', url: HOOK, secret: SECRET, method: 'PUT' }, 'invalid_request'],
  ];

  beforeAll(async () => {
    await put('kept', { type: 'webhook', url: HOOK, secret: SECRET });
  });

  it.each(refused)('%s: 400 with its code, a message, and the stored destination unchanged', async (_name, body, code) => {
    const res = await put('kept', body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: code, message: expect.any(String) });
    expect(res.body).not.toContain(SECRET.slice(6));
    expect(await stored('kept')).toEqual({ type: 'webhook', url: HOOK, secret: SECRET, setAt: expect.any(String) });
  });

  it('stores nothing for a source that did not exist', async () => {
    const res = await put('never', { type: 'webhook', url: 'ftp://hooks.example.com/', secret: SECRET });
    expect(res.statusCode).toBe(400);
    expect(await stored('never')).toBeUndefined();
  });

  it('refuses a malformed source id as the submit route does', async () => {
    const res = await put('bad%20id', { type: 'table' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });

  it('explains a body that is not a destination without listing every branch of the union', async () => {
    const message = async (body: unknown) => (await put('kept', body)).json().message;
    expect(await message({ type: 'email' })).toBe('body/type must be one of: table, webhook');
    expect(await message({ type: 'table', url: HOOK })).toBe('a table destination takes no other field: body/url: unexpected property');
    expect(await message({ type: 'webhook', url: HOOK })).toMatch(
      /^a webhook destination takes exactly url and secret.*body\/secret: expected required property$/,
    );
    expect(await message([])).toMatch(/^the body must be a JSON object/);
  });

  it('says what to do in the message', async () => {
    expect((await put('kept', refused[1][1])).json().message).toMatch(/WEBHOOK_ALLOWED_HOSTS/);
    expect((await put('kept', refused[9][1])).json().message).toMatch(/whsec_ followed by the base64 of 24 to 64 random bytes/);
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  let listed: TestApp;
  beforeAll(async () => {
    listed = await buildTestApp(db, { ADMIN_TOKEN: ADMIN, WEBHOOK_ALLOWED_HOSTS: 'LOCALHOST, 127.0.0.1' });
  });
  afterAll(() => listed.close());

  it('lets a listed loopback host be called, over plain http too', async () => {
    for (const url of ['http://localhost:8080/hook', 'https://127.0.0.1:8443/hook']) {
      const res = await put('local', { type: 'webhook', url, secret: SECRET }, listed);
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
      expect(await stored('local')).toEqual({ type: 'webhook', url, secret: SECRET, setAt: expect.any(String) });
    }
  });

  it('still refuses a host it does not list', async () => {
    const res = await put('local', { type: 'webhook', url: 'https://10.0.0.1/hook', secret: SECRET }, listed);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('host_not_allowed');
    expect((await put('local', { type: 'webhook', url: 'http://hooks.example.com/', secret: SECRET }, listed)).json().error).toBe(
      'url_scheme',
    );
  });
});

describe('who may set and show a destination', () => {
  it('is the admin only: a source key gets 403 even for its own source, no token 401', async () => {
    const created = await as(t, ADMIN, { method: 'POST', url: '/v1/admin/sources/owned/keys' });
    expect(created.statusCode).toBe(201);
    const key = created.json<{ key: string }>().key;
    await put('owned', { type: 'table' });
    const body = { type: 'webhook', url: HOOK, secret: SECRET };
    const url = '/v1/admin/sources/owned/destination';
    expect((await as(t, key, { method: 'PUT', url, payload: body })).statusCode).toBe(403);
    expect((await as(t, key, { method: 'GET', url })).statusCode).toBe(403);
    expect((await as(t, undefined, { method: 'PUT', url, payload: body })).statusCode).toBe(401);
    expect((await as(t, undefined, { method: 'GET', url })).statusCode).toBe(401);
    expect((await as(t, 'not-the-admin-token-at-all', { method: 'GET', url })).statusCode).toBe(401);
    expect(await stored('owned')).toEqual({});
  });
});
