// Property-based fuzzing of every route: random and malformed bodies, headers, ids, unicode, huge
// numbers, deep nesting and wrong content types. The app must answer every request with a
// well-formed JSON success or {error, message}, never a 5xx for bad input, and the tables must hold
// exactly what the accepted requests wrote.
import net from 'node:net';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { createTestDb, startsGivenBack, tableCounts, type TestDb } from '../helpers/db';
import { buildTestApp, UNREACHABLE, type TestApp } from '../helpers/app';

const ADMIN = 'fuzz-test-admin-token-0123456789abcdef';
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
let db: TestDb;
let t: TestApp;
let sourceKey: string;

// What valid requests wrote, to compare with the tables at the end.
const accepted = new Map<string, Set<string>>();
let keysCreated = 0;
// Sources a destination was set for (a PUT creates the source when it has no row yet).
const destinationSources = new Set<string>();
const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
let failovers = 0;
const faults = new Set<string>();
let answers = 0;

beforeAll(async () => {
  db = await createTestDb('fuzz');
  // Hundreds of accepted batches: their starts fail at once (not after a connect timeout each) and give their claims back.
  t = await buildTestApp(db, { ADMIN_TOKEN: ADMIN }, undefined, { executor: UNREACHABLE });
  const res = await t.app.inject({ method: 'POST', url: '/v1/admin/sources/fz/keys', headers: { authorization: `Bearer ${ADMIN}` } });
  sourceKey = res.json().key;
  keysCreated++;
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

// --- generators ---------------------------------------------------------------------------------

/** Percent-encodes any string byte by byte, so even unpaired surrogates and NUL reach the router. */
const pct = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const validId = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/);
const pathId = fc.oneof(
  { weight: 3, arbitrary: validId },
  fc.string({ unit: 'binary', maxLength: 300 }).map(pct),
  fc.constantFrom(
    '..',
    '.',
    '%00',
    '%zz',
    '%',
    'a%2Fb',
    'x'.repeat(129),
    'fz',
    '1e309',
    '-1',
    '0',
    '99999999999999999999',
    '1.5',
    'NaN',
    'null',
    '__proto__',
    'constructor',
  ),
);
const seqText = fc.oneof(fc.integer({ min: -5, max: 50 }).map(String), fc.bigInt().map(String), fc.double().map(String), pathId);

const unicodeText = fc.string({ unit: 'binary', maxLength: 40 });
const scalar = fc.oneof(
  unicodeText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt().map((b) => Number(b)),
);
const payload = fc.dictionary(
  unicodeText,
  fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(unicodeText, scalar, { maxKeys: 3 })),
  { maxKeys: 5 },
);
const recordItem = fc.oneof(
  { weight: 12, arbitrary: fc.record({ id: validId, payload }) },
  fc.record({ id: fc.oneof(unicodeText, fc.integer(), fc.constant(null)), payload: fc.jsonValue() }),
  fc.record({ id: validId, payload: fc.jsonValue(), extra: fc.jsonValue() }),
  fc.jsonValue(),
);
const submitBody = fc.oneof(
  { weight: 8, arbitrary: fc.record({ records: fc.array(recordItem, { minLength: 0, maxLength: 6 }) }) },
  fc.record({ records: fc.jsonValue() }),
  fc.jsonValue(),
);

const nest = (depth: number, open: string, close: string, inner = '1') => open.repeat(depth) + inner + close.repeat(depth);
// Raw texts: malformed JSON, deep nesting, huge numbers, escapes that Postgres cannot store.
const rawText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(
    '',
    '{',
    '{"records":[',
    'null',
    '[]',
    '"x"',
    '1e999',
    '-1e999',
    '123456789012345678901234567890',
    'true',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
  fc.integer({ min: 1, max: 20_000 }).map((d) => `{"records":[{"id":"deep","payload":${nest(d, '{"a":', '}')}}]}`),
  fc.integer({ min: 1, max: 20_000 }).map((d) => nest(d, '[', ']')),
  fc
    .constantFrom('\\u0000', '\\ud800', '\\udfff', '\\ud800\\u0041', '\\\\', '\\"', 'ok')
    .map((e) => `{"records":[{"id":"esc","payload":{"s":"${e}","${e}":1}}]}`),
  fc
    .constantFrom('1e999', '-0', '123456789012345678901234567890', '0.1e-400', '9007199254740993')
    .map((n) => `{"records":[{"id":"num${n.length}","payload":{"n":${n}}}]}`),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  'json',
  undefined,
);
const authHeader = () =>
  fc.oneof(
    { weight: 16, arbitrary: fc.constant(`Bearer ${ADMIN}`) },
    fc.constant(`Bearer ${sourceKey}`),
    fc.constant(undefined),
    fc.constantFrom(
      'Bearer',
      'Bearer ',
      'Basic YTpi',
      `Bearer ${ADMIN} extra`,
      `bearer ${ADMIN}`,
      `Bearer ${'x'.repeat(5000)}`,
      'Bearer k_0000000000000000.' + 'A'.repeat(43),
    ),
    fc.string({ maxLength: 100 }).map((s) => `Bearer ${s}`),
  );
const extraHeaders = fc.dictionary(
  fc.constantFrom('accept', 'x-forwarded-for', 'accept-encoding', 'x-request-id', 'user-agent', 'transfer-encoding-x', 'cookie'),
  fc.string({ maxLength: 200 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  { maxKeys: 3 },
);

interface Req {
  method: string;
  url: string;
  body?: { json: unknown } | { raw: string };
  contentType?: string;
  auth?: string;
  headers: Record<string, string>;
}

const bodyArb = (json: fc.Arbitrary<unknown>) =>
  fc.option(
    fc.oneof(
      { weight: 3, arbitrary: json.map((j) => ({ json: j })) },
      rawText.map((r) => ({ raw: r })),
    ),
    { nil: undefined },
  );

async function send(r: Req) {
  const headers: Record<string, string> = { ...r.headers };
  if (r.auth !== undefined) headers.authorization = r.auth;
  if (r.body && r.contentType !== undefined) headers['content-type'] = r.contentType;
  const o: InjectOptions = { method: r.method, url: r.url, headers };
  if (r.body) o.payload = 'json' in r.body ? (JSON.stringify(r.body.json) ?? 'null') : r.body.raw;
  const res = await t.app.inject(o);
  answers++;
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new Error(`${r.method} ${r.url} answered ${res.statusCode} with non-JSON: ${res.body.slice(0, 200)}`);
  }
  const ok = res.statusCode < 300;
  if (!ok) {
    expect({
      status: res.statusCode,
      keys: Object.keys(json as object)
        .filter((k) => k !== 'details')
        .sort(),
    }).toEqual({
      status: res.statusCode,
      keys: ['error', 'message'],
    });
  }
  // No 5xx for bad input; 503 only where this unsupervised app refuses worker control.
  if (res.statusCode >= 500) {
    expect({ req: `${r.method} ${r.url}`, status: res.statusCode, json }).toEqual({
      req: `${r.method} ${r.url}`,
      status: 503,
      json: expect.objectContaining({ error: 'not_supervised' }),
    });
  }
  return { status: res.statusCode, json: json as Record<string, unknown> };
}

const requestArb = (method: string, url: fc.Arbitrary<string>, body?: fc.Arbitrary<unknown>) =>
  fc.record({
    method: fc.constant(method),
    url,
    body: body
      ? bodyArb(body)
      : fc.option(
          rawText.map((raw) => ({ raw })),
          { nil: undefined, freq: 4 },
        ),
    contentType,
    auth: authHeader(),
    headers: extraHeaders,
  }) as fc.Arbitrary<Req>;

const query = fc.oneof(
  fc.constant(''),
  fc.record({ after: seqText, limit: seqText }).map((q) => `?after=${q.after}&limit=${q.limit}`),
  fc.string({ maxLength: 50 }).map((s) => `?${pct(s)}`),
);
const region = fc.oneof(fc.constantFrom('east', 'west', 'north', ''), pathId);
const stage = fc.oneof(fc.constantFrom('core', 'inbound', 'workflows', 'kitchen'), pathId);

const routes: [string, fc.Arbitrary<Req>, (r: Req, a: { status: number; json: Record<string, unknown> }) => void][] = [
  [
    'POST /v1/sources/:sourceId/records',
    fc.oneof(
      requestArb(
        'POST',
        pathId.map((s) => `/v1/sources/${s}/records`),
        submitBody,
      ),
      // Well-formed batches too, so that the final table check compares real writes.
      fc.record({
        method: fc.constant('POST'),
        url: validId.map((s) => `/v1/sources/${s}/records`),
        body: fc.array(fc.record({ id: validId, payload }), { minLength: 1, maxLength: 5 }).map((records) => ({ json: { records } })),
        contentType: fc.constant('application/json'),
        auth: fc.constant(`Bearer ${ADMIN}`),
        headers: fc.constant({}),
      }),
    ),
    (r, a) => {
      if (a.status !== 202) return;
      const source = decodeURIComponent(r.url.split('/')[3]);
      const set = accepted.get(source) ?? new Set<string>();
      for (const rec of a.json.records as { id: string }[]) set.add(rec.id);
      accepted.set(source, set);
    },
  ],
  [
    'GET /v1/sources/:sourceId/records/:seq',
    requestArb(
      'GET',
      fc.tuple(pathId, seqText).map(([s, q]) => `/v1/sources/${s}/records/${q}`),
    ),
    () => undefined,
  ],
  [
    'GET /v1/sources/:sourceId',
    requestArb(
      'GET',
      pathId.map((s) => `/v1/sources/${s}`),
    ),
    () => undefined,
  ],
  [
    'GET /v1/sources/:sourceId/deliveries',
    requestArb(
      'GET',
      fc.tuple(pathId, query).map(([s, q]) => `/v1/sources/${s}/deliveries${q}`),
    ),
    () => undefined,
  ],
  ...(['skip', 'retry'] as const).map(
    (action) =>
      [
        `POST /v1/sources/:sourceId/records/:seq/${action}`,
        requestArb(
          'POST',
          fc.tuple(pathId, seqText).map(([s, q]) => `/v1/sources/${s}/records/${q}/${action}`),
          fc.oneof(fc.record({ reason: unicodeText }), fc.jsonValue()),
        ),
        () => undefined,
      ] as (typeof routes)[number],
  ),
  [
    'POST /v1/admin/faults',
    requestArb(
      'POST',
      fc.constant('/v1/admin/faults'),
      fc.oneof(
        fc.record({ region, stage, action: fc.constantFrom('fail', 'recover', 'explode'), reason: unicodeText }, { requiredKeys: [] }),
        fc.jsonValue(),
      ),
    ),
    (r, a) => {
      if (a.status !== 200) return;
      const key = `${a.json.region}/${a.json.stage}`;
      if (a.json.failed) faults.add(key);
      else faults.delete(key);
    },
  ],
  ['GET /v1/admin/faults', requestArb('GET', fc.constant('/v1/admin/faults')), () => undefined],
  ['GET /v1/admin/workers', requestArb('GET', fc.constant('/v1/admin/workers')), () => undefined],
  ['GET /v1/admin/reconcile', requestArb('GET', fc.constant('/v1/admin/reconcile')), () => undefined],
  [
    'POST /v1/admin/workers/:region/:stage/stop',
    requestArb(
      'POST',
      fc.tuple(region, stage, fc.constantFrom('stop', 'start')).map(([g, s, x]) => `/v1/admin/workers/${g}/${s}/${x}`),
      fc.jsonValue(),
    ),
    () => undefined,
  ],
  [
    'POST /v1/admin/regions/:region/server/stop',
    requestArb(
      'POST',
      fc.tuple(region, fc.constantFrom('stop', 'start', 'pause', 'resume')).map(([g, x]) => `/v1/admin/regions/${g}/server/${x}`),
      fc.jsonValue(),
    ),
    () => undefined,
  ],
  [
    'POST /v1/admin/failover',
    // Never a real region: failing over is not what this test is about.
    requestArb(
      'POST',
      fc.constant('/v1/admin/failover'),
      fc.oneof(fc.record({ to: fc.oneof(unicodeText, fc.integer()), reason: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue()),
    ),
    (_r, a) => {
      if (a.status === 200) failovers++;
    },
  ],
  [
    'POST /v1/admin/sources/:sourceId/keys',
    requestArb(
      'POST',
      pathId.map((s) => `/v1/admin/sources/${s}/keys`),
      fc.jsonValue(),
    ),
    (_r, a) => {
      if (a.status === 201) keysCreated++;
    },
  ],
  [
    'GET /v1/admin/sources/:sourceId/keys',
    requestArb(
      'GET',
      pathId.map((s) => `/v1/admin/sources/${s}/keys`),
    ),
    () => undefined,
  ],
  [
    'DELETE /v1/admin/sources/:sourceId/keys/:keyId',
    requestArb(
      'DELETE',
      fc.tuple(pathId, fc.oneof(pathId, fc.constant('k_0123456789abcdef'))).map(([s, k]) => `/v1/admin/sources/${s}/keys/${k}`),
    ),
    () => undefined,
  ],
  [
    'PUT /v1/admin/sources/:sourceId/destination',
    fc.oneof(
      requestArb(
        'PUT',
        pathId.map((s) => `/v1/admin/sources/${s}/destination`),
        fc.oneof(
          {
            weight: 3,
            arbitrary: fc.record(
              {
                type: fc.constantFrom('table', 'webhook', 'email'),
                url: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), unicodeText),
                secret: fc.oneof(fc.constant(SECRET), unicodeText),
              },
              { requiredKeys: ['type'] },
            ),
          },
          fc.jsonValue(),
        ),
      ),
      // Well-formed ones too (https URLs of every shape, the table), so that some are stored.
      fc.record({
        method: fc.constant('PUT'),
        url: validId.map((s) => `/v1/admin/sources/${s}/destination`),
        body: fc
          .oneof(
            fc.constant({ type: 'table' }),
            fc
              .webUrl({ validSchemes: ['https'], withQueryParameters: true, withFragments: true })
              .map((url) => ({ type: 'webhook', url, secret: SECRET })),
          )
          .map((json) => ({ json })),
        contentType: fc.constant('application/json'),
        auth: fc.constant(`Bearer ${ADMIN}`),
        headers: fc.constant({}),
      }),
    ),
    (r, a) => {
      if (a.status === 200) destinationSources.add(decodeURIComponent(r.url.split('/')[4]));
    },
  ],
  [
    'GET /v1/admin/sources/:sourceId/destination',
    requestArb(
      'GET',
      pathId.map((s) => `/v1/admin/sources/${s}/destination`),
    ),
    () => undefined,
  ],
  [
    'unknown routes and methods',
    fc.oneof(
      requestArb(
        'PUT',
        pathId.map((s) => `/v1/sources/${s}`),
      ),
      requestArb(
        'GET',
        pathId.map((s) => `/${s}`),
      ),
      requestArb('PATCH', fc.constant('/v1/admin/failover')),
    ),
    () => undefined,
  ],
  ['GET /docs/json', requestArb('GET', fc.constant('/docs/json')), () => undefined],
];

describe('fuzzing every route', () => {
  it.each(routes)('%s: well-formed answers, no 5xx for bad input', async (_name, arb, track) => {
    await fc.assert(
      fc.asyncProperty(arb, async (r) => {
        track(r, await send(r));
      }),
      { numRuns: RUNS },
    );
  });

  it('leaves in the tables exactly what the accepted requests wrote', async () => {
    expect(answers).toBeGreaterThanOrEqual(routes.length * RUNS);
    await startsGivenBack(db.pool, 60_000);
    const rows = (
      await db.pool.query<{ source_id: string; record_id: string; seq: number; status: string }>(
        'SELECT source_id, record_id, seq, status FROM records ORDER BY source_id, seq',
      )
    ).rows;
    const inDb = new Map<string, string[]>();
    for (const r of rows) inDb.set(r.source_id, [...(inDb.get(r.source_id) ?? []), r.record_id]);
    expect(new Map([...inDb].map(([s, ids]) => [s, new Set(ids)]))).toEqual(accepted);
    // Gap-free seqs per source, nothing moved on.
    for (const [s, ids] of inDb) {
      expect(rows.filter((r) => r.source_id === s).map((r) => r.seq)).toEqual(ids.map((_, i) => i + 1));
    }
    expect(rows.every((r) => r.status === 'accepted')).toBe(true);
    const counts = await tableCounts(db.pool);
    expect(counts).toMatchObject({
      sources: new Set([...accepted.keys(), ...destinationSources]).size,
      dead_letters: 0,
      deliveries: 0,
      stage_inbound: 0,
      faults: faults.size,
    });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM source_keys')).rows[0].n).toBe(keysCreated);
    expect((await db.pool.query("SELECT epoch FROM regions WHERE name = 'east'")).rows[0].epoch).toBe(1 + failovers);
    // Some valid requests got through, or the test proves little.
    expect(rows.length).toBeGreaterThan(0);
    expect(destinationSources.size).toBeGreaterThan(0);
  });

  it('survives malformed HTTP on a real socket and still answers', async () => {
    const url = new URL(await t.app.listen({ host: '127.0.0.1', port: 0 }));
    const raw = (bytes: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(Number(url.port), '127.0.0.1', () => socket.end(bytes));
        let out = '';
        socket.on('data', (d) => (out += d));
        socket.on('close', () => resolve(out));
        socket.on('error', () => resolve(out));
      });
    const garbage = [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      `GET /v1/sources/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /v1/sources/a/records HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      `POST /v1/sources/a/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"records":`,
      '\u0000\u0001\u0002',
    ];
    for (const g of garbage) {
      const out = await raw(g);
      expect(out === '' || /^HTTP\/1\.1 4\d\d/.test(out)).toBe(true);
    }
    const res = await fetch(`${url.origin}/v1/sources/fz/deliveries`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect([200, 404]).toContain(res.status);
  });
});
