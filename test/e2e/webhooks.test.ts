// Webhook destinations against the real system: a real HTTP receiver on loopback that verifies every
// signature with the convention's own library, records the order of arrival and can be told to fail.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { Webhook } from 'standardwebhooks';
import { recordWorkflowId } from '../../src/contracts/names';
import { verifyInvariants, violations } from '../../src/db/verify';
import { expectAllDelivered, randomBatch, uniqueSource } from '../helpers/records';
import {
  api,
  SHARED_ENV,
  sharedSystem,
  startSystem,
  stopAndRemove,
  submit,
  waitFor,
  type SharedSystem,
  type System,
} from '../helpers/system';
import { createTestDb, type TestDb } from '../helpers/db';
import type { Pool } from '../../src/db/pool';

jest.setTimeout(300_000);

const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;

interface Call {
  source: string;
  seq: number;
  id: string;
  epoch: number;
  at: number;
  /** The status the receiver answered (undefined while it hangs, or when the caller gave up first). */
  status?: number;
}
type Answer = { status: number; body?: string; headers?: Record<string, string> } | { hangMs: number };
type Behaviour = (call: Call, path: string) => Answer;

let sys: SharedSystem;
let db: SharedSystem['db'];
let server: http.Server;
let base: string;
const calls: Call[] = [];
let behaviour: Behaviour = () => ({ status: 200 });
let badSignatures = 0;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  // WEBHOOK_ALLOWED_HOSTS 127.0.0.1 and WEBHOOK_MAX_BACKOFF_MS 2000 (SHARED_ENV).
  sys = await sharedSystem();
  db = sys.db;
  target = { url: sys.url, pool: db.pool };
  connection = await Connection.connect({ address: sys.temporalAddress });
  client = new Client({ connection, namespace: 'pipeline-east' });
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      try {
        new Webhook(SECRET).verify(raw, req.headers as Record<string, string>);
      } catch {
        badSignatures += 1;
        return void res.writeHead(401).end('bad signature');
      }
      const body = JSON.parse(raw) as { sourceId: string; seq: number };
      const call: Call = {
        source: body.sourceId,
        seq: body.seq,
        id: String(req.headers['webhook-id']),
        epoch: Number(req.headers['webhook-epoch']),
        at: Date.now(),
      };
      calls.push(call);
      const answer = behaviour(call, req.url ?? '');
      // A caller that gave up (its timeout) never got the answer: that call is not acknowledged.
      let gone = false;
      res.on('close', () => void (gone = !res.writableFinished));
      const send = (a: Exclude<Answer, { hangMs: number }>) => {
        if (gone) return;
        call.status = a.status;
        res.writeHead(a.status, a.headers).end(a.body ?? '');
      };
      if ('hangMs' in answer) setTimeout(() => send({ status: 200 }), answer.hangMs);
      else send(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await connection?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await sys?.release();
});

/** The system the helpers below talk to: the shared one, or the failover test's own. */
let target: { url: string; pool: Pool };

const setDestination = (source: string, body: unknown) =>
  api<Record<string, unknown>>(`${target.url}/v1/admin/sources/${encodeURIComponent(source)}/destination`, 'PUT', body);
const webhook = (path: string) => ({ type: 'webhook', url: `${base}${path}`, secret: SECRET });

async function deliveredSeqs(source: string): Promise<number[]> {
  const { rows } = await target.pool.query<{ seq: number }>('SELECT seq FROM deliveries WHERE source_id = $1 ORDER BY id', [source]);
  return rows.map((r) => Number(r.seq));
}

async function submitN(source: string, n: number, prefix: string): Promise<void> {
  expect((await submit(target.url, source, randomBatch(prefix, n))).status).toBe(202);
}

/**
 * What the receiver saw of a source, judged as a receiver deduplicating by webhook-id would: the
 * acknowledged calls are exactly `delivered`, each once, in seq order; the calls' seqs never go
 * back; and no record is called before its predecessor was acknowledged (or refused: `refused`).
 */
function expectOrderedOnce(source: string, delivered: number[], refused: number[] = []): void {
  const mine = calls.filter((c) => c.source === source);
  const ok = (c: Call) => c.status !== undefined && c.status >= 200 && c.status < 300;
  for (const c of mine) expect(c.id).toBe(`${source}:${c.seq}`);
  expect(mine.filter(ok).map((c) => c.seq)).toEqual(delivered);
  let done = 0;
  let last = 0;
  for (const c of mine) {
    const inOrder = c.seq >= last && c.seq <= done + 1;
    expect(inOrder ? 'in order' : `a call for ${c.seq} after one for ${last}, with ${done} acknowledged`).toBe('in order');
    last = c.seq;
    if (ok(c) || refused.includes(c.seq)) done = Math.max(done, c.seq);
  }
}

describe('webhook destinations', () => {
  it('survive 503s, honour 429 Retry-After, block a refused record until skipped, hold a 410 source; other sources go on throughout', async () => {
    const [a, b, t] = ['wa', 'wb', 'wt'].map(uniqueSource);
    expect((await setDestination(a, webhook('/a'))).status).toBe(200);
    expect((await setDestination(b, webhook('/b'))).status).toBe(200);
    const started = Date.now();
    let phase: 'down' | 'slow' | 'up' = 'down';
    const tooMany: number[] = [];
    behaviour = (call, path) => {
      if (path === '/b') return phase === 'up' && call.seq === 21 ? { status: 410, body: 'hook removed' } : { status: 200 };
      if (phase === 'down') return { status: 503, body: 'maintenance' };
      if (phase === 'slow' && tooMany.length < 3) {
        tooMany.push(call.at);
        return { status: 429, headers: { 'retry-after': '2' } };
      }
      phase = 'up';
      return call.seq === 5 ? { status: 400, body: '{"error":"unknown customer"}' } : { status: 200 };
    };
    for (const s of [a, b, t]) await submitN(s, 20, 'x');

    // 503 for 20 s: a waits at its first record; b and t are delivered meanwhile.
    await waitFor(
      'b and t delivered',
      async () => (await deliveredSeqs(b)).length === 20 && (await deliveredSeqs(t)).length === 20,
      60_000,
    );
    const view = await waitFor('a retrying in the record view', async () => {
      const r = await api<{
        status: string;
        webhook: { attempts: number; lastStatus: number; lastError: string; nextAttemptAt: string } | null;
      }>(`${sys.url}/v1/sources/${a}/records/1`, 'GET');
      return r.body.webhook && r.body.webhook.attempts >= 2 ? r.body : undefined;
    });
    expect(view.webhook).toMatchObject({
      lastStatus: 503,
      lastError: expect.stringMatching(/answered 503: maintenance/),
      nextAttemptAt: expect.any(String),
    });
    // The Web UI's Current Details of the waiting record name the endpoint's answer.
    const details = await waitFor('Current Details', async () => {
      const meta = await client.workflow
        .getHandle(recordWorkflowId(a, 1))
        .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      return meta.currentDetails?.startsWith('**Waiting for the destination**') ? meta.currentDetails : undefined;
    });
    expect(details).toMatch(/answered 503: maintenance \(attempt \d+\)/);
    const stats = await api<{ webhooks: { retrying: number; recent: { sourceId: string }[] } }>(`${sys.url}/v1/stats`, 'GET');
    expect(stats.body.webhooks.retrying).toBeGreaterThanOrEqual(1);
    expect(stats.body.webhooks.recent.map((r) => r.sourceId)).toContain(a);
    const metrics = await (await fetch(`${sys.url}/metrics`)).text();
    expect(Number(/^pipeline_webhook_records_retrying (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - started))));
    expect(await deliveredSeqs(a)).toEqual([]);

    // 429 with Retry-After: 2, three times, each call at least 2 s after the one before.
    phase = 'slow';
    await waitFor('a delivered up to its refused record', async () => (await deliveredSeqs(a)).length === 4, 60_000);
    for (let i = 1; i < tooMany.length; i++) expect(tooMany[i] - tooMany[i - 1]).toBeGreaterThanOrEqual(1_900);
    // The 400: record 5 is blocked with the endpoint's answer, and a skip lets a go on.
    const blocked = await waitFor('record 5 blocked', async () => {
      const r = await api<{ status: string; blocked: { stage: string; reason: string } | null }>(
        `${sys.url}/v1/sources/${a}/records/5`,
        'GET',
      );
      return r.body.status === 'blocked' ? r.body : undefined;
    });
    expect(blocked.blocked).toMatchObject({
      stage: 'outbound',
      reason: expect.stringMatching(/answered 400: \{"error":"unknown customer"\}/),
    });
    expect((await api(`${sys.url}/v1/sources/${a}/records/5/skip`, 'POST', { reason: 'customer unknown to the receiver' })).status).toBe(
      200,
    );
    await waitFor('a delivered but its skipped record', async () => (await deliveredSeqs(a)).length === 19, 60_000);

    // 410 on b's next record: b's destination is disabled and b is held; t goes on.
    await submitN(b, 3, 'y');
    await submitN(t, 3, 'y');
    await waitFor('b disabled', async () => {
      const d = await setDestinationView(b);
      return d.disabledAt ? d : undefined;
    });
    await waitFor('t delivered', async () => (await deliveredSeqs(t)).length === 23, 60_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await deliveredSeqs(b)).toHaveLength(20);
    expect(calls.filter((c) => c.source === b && c.seq === 21)).toHaveLength(1);
    const disabled = await api<{ webhooks: { disabledTotal: number; disabled: { sourceId: string; reason: string }[] } }>(
      `${sys.url}/v1/stats`,
      'GET',
    );
    expect(disabled.body.webhooks.disabled).toContainEqual({
      sourceId: b,
      disabledAt: expect.any(String),
      reason: expect.stringMatching(/410: hook removed/),
    });
    // An admin sets it again (the endpoint is back): b goes on where it stopped.
    behaviour = () => ({ status: 200 });
    expect((await setDestination(b, webhook('/b'))).status).toBe(200);
    await waitFor('b delivered', async () => (await deliveredSeqs(b)).length === 23, 60_000);

    expect(badSignatures).toBe(0);
    expectOrderedOnce(a, [1, 2, 3, 4, ...Array.from({ length: 15 }, (_, i) => i + 6)], [5]);
    expectOrderedOnce(
      b,
      Array.from({ length: 23 }, (_, i) => i + 1),
    );
    expect(calls.filter((c) => c.source === t)).toEqual([]);
    await expectAllDelivered(db.pool, [b, t]);
    expect(await deliveredSeqs(a)).toEqual([1, 2, 3, 4, ...Array.from({ length: 15 }, (_, i) => i + 6)]);
    const report = await verifyInvariants(db.pool, { sources: [a], expectDrained: true });
    expect({ violations: violations(report), records: report.records }).toEqual({ violations: [], records: { delivered: 19, skipped: 1 } });
  });
});

// A failover of its own: the shared system is left in east, with no standby worker having worked.
describe('a webhook call and a failover', () => {
  let ownDb: TestDb;
  let own: System;
  beforeAll(async () => {
    ownDb = await createTestDb('e2e_webhook_failover');
    own = await startSystem({
      databaseUrl: ownDb.url,
      env: { ...SHARED_ENV, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_MAX_BACKOFF_MS: '2000' },
    });
    target = { url: own.url, pool: ownDb.pool };
  });
  afterAll(async () => {
    if (own) await stopAndRemove(own);
    await ownDb?.drop();
  });

  it('a failover while the endpoint hangs on a call from east: no call from east after the switch commits, no gap, no reordering', async () => {
    const s = uniqueSource('wf');
    expect((await setDestination(s, webhook('/f'))).status).toBe(200);
    let hung = false;
    behaviour = (call) => {
      if (!hung && call.seq === 4) {
        hung = true;
        return { hangMs: 10_000 };
      }
      return { status: 200 };
    };
    await submitN(s, 10, 'f');
    await waitFor('a call hanging', async () => hung, 60_000, 100);
    const before = (await api<{ active: string; epoch: number }>(`${own.url}/v1/admin/regions`, 'GET')).body;
    expect(before.active).toBe('east');
    const switched = await api<{ to: string; epoch: number }>(`${own.url}/v1/admin/failover`, 'POST', {
      to: 'west',
      reason: 'webhook test',
    });
    expect(switched).toMatchObject({ status: 200, body: { to: 'west' } });
    const { rows } = await ownDb.pool.query<{ at: Date }>(`SELECT updated_at AS at FROM regions WHERE name = 'west'`);
    const committedAt = rows[0].at.getTime();
    await waitFor('all delivered in west', async () => (await deliveredSeqs(s)).length === 10, 120_000);
    const mine = calls.filter((c) => c.source === s);
    // East's call of record 4 was in flight when the switch began, and never acknowledged.
    expect(mine.filter((c) => c.epoch === before.epoch && c.seq === 4).map((c) => [c.at < committedAt, c.status])).toEqual([
      [true, undefined],
    ]);
    expect(mine.filter((c) => c.epoch === before.epoch && c.at >= committedAt)).toEqual([]);
    expect(mine.some((c) => c.epoch === switched.body.epoch)).toBe(true);
    expectOrderedOnce(
      s,
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    await expectAllDelivered(ownDb.pool, [s], 10);
  });
});

async function setDestinationView(source: string): Promise<{ disabledAt?: string }> {
  return (await api<{ disabledAt?: string }>(`${target.url}/v1/admin/sources/${encodeURIComponent(source)}/destination`, 'GET')).body;
}
