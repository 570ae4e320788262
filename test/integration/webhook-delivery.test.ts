// The outbound stage with a webhook destination, against real Postgres and a real HTTP receiver on
// loopback: signed once, in order, fenced, and each kind of failure doing what it should.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import { runStage, type StageWriteDeps } from '../../src/activities/stage-write';
import { checkpointRecords } from '../../src/db/checkpoint';
import { storeDestination } from '../../src/db/destinations';
import { failover } from '../../src/db/failover';
import { skipRecord } from '../../src/db/operator';
import { STAGES } from '../../src/contracts/names';
import { RecordRejectedError } from '../../src/contracts/failures';
import { defaultWork } from '../../src/stages/work';
import { webhookView } from '../../src/db/webhooks';
import { createPool } from '../../src/db/pool';
import { createTestDb, type TestDb } from '../helpers/db';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

interface Received {
  id: string;
  epoch: string;
  body: { sourceId: string; seq: number; id: string; output: Record<string, unknown> };
  at: number;
}

/** What the receiver answers to a call; undefined: hang until the test's end. */
type Behaviour = (r: Received) => { status: number; body?: string; headers?: Record<string, string> } | undefined;

let db: TestDb;
let deps: StageWriteDeps;
let server: http.Server;
let url: string;
let received: Received[] = [];
let behaviour: Behaviour = () => ({ status: 200 });
const hanging: http.ServerResponse[] = [];

beforeAll(async () => {
  db = await createTestDb('webhook');
  deps = {
    pool: db.pool,
    region: 'east',
    work: defaultWork,
    webhooks: { timeoutMs: 2_000, maxBackoffMs: 8_000, allowedHosts: ['127.0.0.1'] },
  };
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      // Verified as a receiver would, with the convention's own library: a bad signature throws.
      new Webhook(SECRET).verify(raw, req.headers as Record<string, string>);
      const r: Received = {
        id: String(req.headers['webhook-id']),
        epoch: String(req.headers['webhook-epoch']),
        body: JSON.parse(raw) as Received['body'],
        at: Date.now(),
      };
      received.push(r);
      const answer = behaviour(r);
      if (!answer) return void hanging.push(res);
      res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await db.drop();
});
beforeEach(() => {
  received = [];
  behaviour = () => ({ status: 200 });
});

const task = (sourceId: string, seq: number, epoch = 1) => ({ sourceId, seq, epoch });

/** n records of a webhook source, each through every stage but outbound. */
async function ready(sourceId: string, n: number, destination: unknown = { type: 'webhook', url, secret: SECRET }): Promise<void> {
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${i + 1}`, payload: { amount: i + 1 }, hash: `h${i + 1}` }));
  const res = await checkpointRecords(db.pool, sourceId, items);
  if (!res.ok) throw new Error('conflict');
  await db.pool.query('UPDATE sources SET destination = $2 WHERE source_id = $1', [sourceId, JSON.stringify(destination)]);
  for (let seq = 1; seq <= n; seq++) {
    for (const stage of STAGES.slice(0, -1)) expect((await runStage(deps, stage, task(sourceId, seq))).outcome).toBe('done');
  }
}

async function outboundFailure(sourceId: string, seq: number): Promise<unknown> {
  return runStage(deps, 'outbound', task(sourceId, seq)).then(
    () => {
      throw new Error('expected the outbound stage to fail');
    },
    (err: unknown) => err,
  );
}

async function attemptsRow(sourceId: string, seq: number) {
  const { rows } = await db.pool.query<{ attempts: number; last_status: number | null; last_error: string; due_ms: number }>(
    `SELECT attempts, last_status, last_error, (extract(epoch FROM next_attempt_at - last_at) * 1000)::int AS due_ms
       FROM webhook_attempts WHERE source_id = $1 AND seq = $2`,
    [sourceId, seq],
  );
  return rows[0];
}

async function delivered(sourceId: string): Promise<number[]> {
  const { rows } = await db.pool.query<{ seq: string }>('SELECT seq FROM deliveries WHERE source_id = $1 ORDER BY id', [sourceId]);
  return rows.map((r) => Number(r.seq));
}

describe('a webhook destination', () => {
  it('is called once per record, signed, in seq order, with the id and epoch that stay the same on a retry', async () => {
    await ready('wh-order', 3);
    // Record 2 before 1: the gate is closed, nothing is sent.
    expect((await runStage(deps, 'outbound', task('wh-order', 2))).outcome).toBe('waiting');
    expect(received).toEqual([]);
    for (const seq of [1, 2, 3]) expect((await runStage(deps, 'outbound', task('wh-order', seq))).outcome).toBe('done');
    // A repeat of a delivered record (a retry after a lost completion) calls nothing.
    expect((await runStage(deps, 'outbound', task('wh-order', 2))).outcome).toBe('already');
    expect(received.map((r) => [r.id, r.epoch, r.body.seq, r.body.id])).toEqual([
      ['wh-order:1', '1', 1, 'r1'],
      ['wh-order:2', '1', 2, 'r2'],
      ['wh-order:3', '1', 3, 'r3'],
    ]);
    expect(received[0].body.output).toMatchObject({ key: 'wh-order:1', recordId: 'r1' });
    expect(await delivered('wh-order')).toEqual([1, 2, 3]);
  });

  it('sources delivering to the table call nothing', async () => {
    await ready('wh-table', 2, {});
    for (const seq of [1, 2]) expect((await runStage(deps, 'outbound', task('wh-table', seq))).outcome).toBe('done');
    expect(received).toEqual([]);
    expect(await delivered('wh-table')).toEqual([1, 2]);
  });

  it('retries 5xx with a doubling backoff, keeps the last answer, and forgets it once delivered', async () => {
    await ready('wh-503', 1);
    behaviour = () => ({ status: 503, body: 'down for maintenance\n' });
    const first = await outboundFailure('wh-503', 1);
    expect(first).toBeInstanceOf(ApplicationFailure);
    expect(first).toMatchObject({ type: 'DependencyUnavailable', nonRetryable: false, nextRetryDelay: 1000 });
    expect((first as Error).message).toMatch(/answered 503: down for maintenance \(attempt 1; next in 1 s\)/);
    expect(await attemptsRow('wh-503', 1)).toMatchObject({ attempts: 1, last_status: 503, due_ms: 1000 });
    expect(await outboundFailure('wh-503', 1)).toMatchObject({ nextRetryDelay: 2000 });
    expect(await attemptsRow('wh-503', 1)).toMatchObject({ attempts: 2, due_ms: 2000 });
    // What /v1/stats and /metrics show of it.
    const view = await webhookView(db.pool);
    expect(view.retrying).toBeGreaterThanOrEqual(1);
    expect(view.recent[0]).toMatchObject({ sourceId: 'wh-503', seq: 1, attempts: 2, lastStatus: 503, nextAttemptAt: expect.any(String) });
    expect(await delivered('wh-503')).toEqual([]);
    behaviour = () => ({ status: 204 });
    expect((await runStage(deps, 'outbound', task('wh-503', 1))).outcome).toBe('done');
    expect(await attemptsRow('wh-503', 1)).toBeUndefined();
    expect(received.map((r) => r.id)).toEqual(['wh-503:1', 'wh-503:1', 'wh-503:1']);
  });

  it('answers a new kind of failure to a workflow that shows them (deferred), and throws the same one again', async () => {
    await ready('wh-defer', 1);
    const asking = { ...task('wh-defer', 1), deferNewAnswers: true };
    behaviour = () => ({ status: 503, body: 'maintenance' });
    expect(await runStage(deps, 'outbound', asking)).toMatchObject({
      outcome: 'deferred',
      deferred: { error: expect.stringMatching(/answered 503: maintenance$/), attempts: 1, delayMs: 1000 },
    });
    // The same answer again: Temporal retries it (no history for the workflow).
    expect(await runStage(deps, 'outbound', asking).catch((e: unknown) => e)).toMatchObject({
      type: 'DependencyUnavailable',
      nextRetryDelay: 2000,
    });
    behaviour = () => ({ status: 502 });
    expect(await runStage(deps, 'outbound', asking)).toMatchObject({ outcome: 'deferred', deferred: { attempts: 3, delayMs: 4000 } });
    expect(await attemptsRow('wh-defer', 1)).toMatchObject({ attempts: 3, last_status: 502 });
    // A refusal is never deferred: the record blocks.
    behaviour = () => ({ status: 422, body: 'no' });
    expect(await runStage(deps, 'outbound', asking).catch((e: unknown) => e)).toBeInstanceOf(RecordRejectedError);
    behaviour = () => ({ status: 200 });
    expect((await runStage(deps, 'outbound', asking)).outcome).toBe('done');
    expect(await delivered('wh-defer')).toEqual([1]);
  });

  it("honours 429's Retry-After, and retries 408 and a call without an answer", async () => {
    await ready('wh-429', 1);
    behaviour = () => ({ status: 429, headers: { 'retry-after': '2' } });
    expect(await outboundFailure('wh-429', 1)).toMatchObject({ nextRetryDelay: 2000 });
    behaviour = () => ({ status: 408 });
    expect(await outboundFailure('wh-429', 1)).toMatchObject({ type: 'DependencyUnavailable', nextRetryDelay: 2000 });
    behaviour = () => undefined;
    const started = Date.now();
    const timedOut = await outboundFailure('wh-429', 1);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(timedOut).toMatchObject({ type: 'DependencyUnavailable', nextRetryDelay: 4000 });
    expect(await attemptsRow('wh-429', 1)).toMatchObject({
      attempts: 3,
      last_status: null,
      last_error: expect.stringMatching(/^127\.0\.0\.1:\d+: no answer within 2000 ms$/),
    });
    expect(await delivered('wh-429')).toEqual([]);
  });

  it('blocks a record the endpoint refuses with another 4xx, with the answer as its reason; a skip forgets the attempts', async () => {
    await ready('wh-400', 2);
    behaviour = (r) => (r.body.seq === 1 ? { status: 400, body: '{"error":"amount too large"}' } : { status: 200 });
    const err = await outboundFailure('wh-400', 1);
    expect(err).toBeInstanceOf(RecordRejectedError);
    expect((err as Error).message).toMatch(/^webhook 127\.0\.0\.1:\d+ answered 400: \{"error":"amount too large"\}$/);
    expect(await attemptsRow('wh-400', 1)).toMatchObject({ attempts: 1, last_status: 400 });
    // The activity marks the record blocked on a rejection; here, by hand, as it would.
    await db.pool.query(
      `UPDATE records SET status = 'blocked', blocked_stage = 'outbound', blocked_reason = 'x' WHERE source_id = 'wh-400' AND seq = 1`,
    );
    expect((await skipRecord(db.pool, 'wh-400', 1, 'refused')).ok).toBe(true);
    expect(await attemptsRow('wh-400', 1)).toBeUndefined();
    expect((await runStage(deps, 'outbound', task('wh-400', 2))).outcome).toBe('done');
    expect(received.map((r) => r.id)).toEqual(['wh-400:1', 'wh-400:2']);
  });

  it('calls nothing when the allow-list no longer lets the URL through: the record blocks with the reason', async () => {
    await ready('wh-list', 1);
    const err = await runStage({ ...deps, webhooks: { ...deps.webhooks!, allowedHosts: [] } }, 'outbound', task('wh-list', 1)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RecordRejectedError);
    expect((err as Error).message).toMatch(
      /^webhook to 127\.0\.0\.1:\d+ refused: 127\.0\.0\.1 is a loopback address; .*WEBHOOK_ALLOWED_HOSTS/,
    );
    expect(received).toEqual([]);
    expect(await attemptsRow('wh-list', 1)).toMatchObject({ attempts: 1, last_status: null });
  });

  it('does not follow a redirect (it could lead past the host allow-list)', async () => {
    await ready('wh-302', 1);
    behaviour = () => ({ status: 302, headers: { location: 'http://10.0.0.1/' } });
    expect(await outboundFailure('wh-302', 1)).toBeInstanceOf(RecordRejectedError);
    expect(received).toHaveLength(1);
  });

  it('410 Gone disables the destination: no call until it is set again', async () => {
    await ready('wh-410', 2);
    behaviour = () => ({ status: 410, body: 'no such hook' });
    expect(await outboundFailure('wh-410', 1)).toMatchObject({ type: 'DependencyUnavailable' });
    const { rows } = await db.pool.query<{ destination: Record<string, string> }>(
      `SELECT destination FROM sources WHERE source_id = 'wh-410'`,
    );
    expect(rows[0].destination).toMatchObject({
      type: 'webhook',
      url,
      disabledReason: expect.stringMatching(/answered 410: no such hook/),
    });
    expect(rows[0].destination.disabledAt).toBeTruthy();
    expect((await webhookView(db.pool)).disabled).toEqual([
      { sourceId: 'wh-410', disabledAt: expect.any(String), reason: expect.stringMatching(/410/) },
    ]);
    behaviour = () => ({ status: 200 });
    const held = await outboundFailure('wh-410', 1);
    expect((held as Error).message).toMatch(/destination disabled since .*410: no such hook.*sets it again/);
    expect(received).toHaveLength(1);
    // An admin sets it again (the PUT stores the destination without the disabled state).
    await db.pool.query('UPDATE sources SET destination = $2 WHERE source_id = $1', [
      'wh-410',
      JSON.stringify({ type: 'webhook', url, secret: SECRET }),
    ]);
    for (const seq of [1, 2]) expect((await runStage(deps, 'outbound', task('wh-410', seq))).outcome).toBe('done');
    expect(received.map((r) => r.id)).toEqual(['wh-410:1', 'wh-410:1', 'wh-410:2']);
  });

  it("a 410 to a call made before an admin set the destination again leaves it enabled (the admin's PUT wins)", async () => {
    await ready('wh-410-put', 1);
    await storeDestination(db.pool, 'wh-410-put', { type: 'webhook', url, secret: SECRET });
    behaviour = () => undefined;
    const call = outboundFailure('wh-410-put', 1);
    await until(() => received.length === 1);
    // The endpoint is fixed and the admin sets the destination again while the old call hangs.
    await storeDestination(db.pool, 'wh-410-put', { type: 'webhook', url, secret: SECRET });
    hanging.pop()!.writeHead(410).end('gone');
    expect(await call).toMatchObject({ type: 'DependencyUnavailable' });
    const { rows } = await db.pool.query<{ destination: Record<string, string> }>(
      `SELECT destination FROM sources WHERE source_id = 'wh-410-put'`,
    );
    expect(rows[0].destination.disabledAt).toBeUndefined();
    behaviour = () => ({ status: 200 });
    expect((await runStage(deps, 'outbound', task('wh-410-put', 1))).outcome).toBe('done');
  });

  it('two attempts of one record at once make one call: the second waits for the first and finds it delivered', async () => {
    await ready('wh-twice', 1);
    behaviour = () => undefined;
    const first = runStage(deps, 'outbound', task('wh-twice', 1));
    await until(() => received.length === 1);
    const second = runStage(deps, 'outbound', task('wh-twice', 1));
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(1);
    hanging.pop()!.writeHead(200).end();
    const outcomes = (await Promise.all([first, second])).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['already', 'done']);
    expect(received).toHaveLength(1);
  });
});

describe('a slow endpoint', () => {
  it("holds no lock the record's successor needs: it answers at once while the call hangs (defect: it waited for the call)", async () => {
    await ready('wh-slow', 2);
    behaviour = (r) => (r.body.seq === 1 ? undefined : { status: 200 });
    const first = runStage(deps, 'outbound', task('wh-slow', 1)).catch((e: unknown) => e);
    await until(() => received.length === 1);
    const started = Date.now();
    expect(await runStage(deps, 'outbound', task('wh-slow', 2))).toMatchObject({ outcome: 'waiting' });
    expect(Date.now() - started).toBeLessThan(500);
    hanging.pop()!.writeHead(200).end();
    expect(await first).toMatchObject({ outcome: 'done' });
    expect((await runStage(deps, 'outbound', task('wh-slow', 2))).outcome).toBe('done');
  });

  it('makes its calls on connections of their own: the stage pool stays free for the table deliveries', async () => {
    await ready('wh-pool', 1);
    const own = createPool({ connectionString: db.url, applicationName: 'webhook-test', max: 1 });
    try {
      behaviour = () => undefined;
      const call = runStage({ ...deps, webhooks: { ...deps.webhooks!, pool: own } }, 'outbound', task('wh-pool', 1)).catch(
        (e: unknown) => e,
      );
      await until(() => received.length === 1);
      expect(own.totalCount).toBe(1);
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'webhook-test' AND state = 'idle in transaction'`,
      );
      expect(rows[0].n).toBe(1);
      hanging.pop()!.writeHead(200).end();
      expect(await call).toMatchObject({ outcome: 'done' });
    } finally {
      await own.end();
    }
  });
});

describe('a webhook call and a failover', () => {
  it('the switch waits for a call in flight; after it commits the old region calls nothing', async () => {
    await ready('wh-fence', 2);
    behaviour = (r) => (r.body.seq === 1 ? undefined : { status: 200 });
    const call = outboundFailure('wh-fence', 1);
    await until(() => received.length === 1);
    // The switch waits for the call's transaction (here the call times out after 2 s).
    const switched = failover(db.pool, 'west', { deadlineMs: 8_000 });
    const result = await switched;
    const committedAt = Date.now();
    expect(result.epoch).toBe(2);
    expect(await call).toMatchObject({ type: 'DependencyUnavailable' });
    // East, at its old epoch, is fenced before it calls: nothing reaches the receiver.
    expect(await outboundFailure('wh-fence', 1)).toMatchObject({ type: 'Fenced' });
    expect(await outboundFailure('wh-fence', 2)).toMatchObject({ type: 'Fenced' });
    expect(received.filter((r) => r.at >= committedAt)).toEqual([]);
    // West carries on at epoch 2: the same webhook-id, a new epoch, in order.
    behaviour = () => ({ status: 200 });
    const west = { ...deps, region: 'west' };
    for (const seq of [1, 2]) expect((await runStage(west, 'outbound', task('wh-fence', seq, 2))).outcome).toBe('done');
    expect(received.map((r) => [r.id, r.epoch])).toEqual([
      ['wh-fence:1', '1'],
      ['wh-fence:1', '2'],
      ['wh-fence:2', '2'],
    ]);
    await failover(db.pool, 'east');
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
