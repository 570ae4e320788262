// Retention against real Postgres: records accepted and driven through the real stage writes (a
// skip and a block among them), made old by SQL, then a retention pass of the control role. It
// removes exactly the finished records past the horizon, each source's oldest first, with their
// rows, and nothing open, blocked or newer; the checker passes in the middle of deliveries and after
// more of them; a kept id resubmitted is still a duplicate.
import pino from 'pino';
import { markBlocked, runStage } from '../../src/activities/stage-write';
import { checkpointRecords } from '../../src/db/checkpoint';
import { skipRecord } from '../../src/db/operator';
import { verifyInvariants, violations } from '../../src/db/verify';
import { STAGES, type Stage } from '../../src/contracts/names';
import { defaultWork } from '../../src/stages/work';
import { ControlLease } from '../../src/control/lease';
import { Retention, retentionView } from '../../src/control/retention';
import { createTestDb, type TestDb } from '../helpers/db';
import { waitFor } from '../helpers/system';

const logger = pino({ level: 'silent' });
const DAY = 86_400_000;
let db: TestDb;
let lease: ControlLease;

beforeAll(async () => {
  db = await createTestDb('retention');
  lease = new ControlLease({ pool: db.pool, holder: 'retention-test', ttlMs: 60_000, renewMs: 1000, logger });
  await waitFor('the lease', async () => (await lease.tick(), lease.held()), 10_000, 50);
});
afterAll(async () => {
  await lease.stop();
  await db.drop();
});

const deps = () => ({ pool: db.pool, region: 'east', work: defaultWork });

async function accept(source: string, n: number, prefix = 'r') {
  const items = Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i + 1}`, payload: { amount: i + 1 }, hash: `h${prefix}${i + 1}` }));
  const res = await checkpointRecords(db.pool, source, items);
  if (!res.ok) throw new Error('conflict');
  await db.pool.query(`UPDATE records SET status = 'processing', region = 'east', epoch = 1 WHERE source_id = $1 AND epoch IS NULL`, [
    source,
  ]);
  return res;
}

async function stages(source: string, seq: number, upTo: Stage = 'outbound') {
  for (const stage of STAGES.slice(0, STAGES.indexOf(upTo) + 1)) await runStage(deps(), stage, { sourceId: source, seq, epoch: 1 });
}

/** Finished records of `source` at or below `seq` finished `days` ago (stage rows and deliveries stay as written). */
const age = (source: string, upTo: number, days: number) =>
  db.pool.query(
    `UPDATE records SET finished_at = now() - make_interval(days => $3) WHERE source_id = $1 AND seq <= $2 AND status IN ('delivered', 'skipped')`,
    [source, upTo, days],
  );

/** A table's seqs of a source, in id order (records: seq order). */
const seqs = async (table: string, source: string) =>
  (
    await db.pool.query<{ seq: number }>(
      `SELECT seq::int FROM ${table} WHERE source_id = $1 ORDER BY ${table === 'records' ? 'seq' : 'id'}`,
      [source],
    )
  ).rows.map((r) => r.seq);

const retention = (batch = 4) => new Retention({ pool: db.pool, logger, lease, retentionMs: 30 * DAY, intervalMs: 60_000, batch });

describe('retention', () => {
  it('removes exactly the finished records past the horizon, oldest first, and nothing open, blocked or newer', async () => {
    // old: 1-6 delivered 40 days ago, 7 blocked at core, 8-9 waiting behind it (open).
    await accept('old', 9);
    for (let seq = 1; seq <= 6; seq++) await stages('old', seq);
    await stages('old', 7, 'preprocess');
    expect(await markBlocked(deps(), 'core', { sourceId: 'old', seq: 7, epoch: 1 }, 'bad amount')).toBe(true);
    for (const seq of [8, 9]) await stages('old', seq, 'preprocess');
    await age('old', 9, 40);
    // skip: 1-4 delivered, 5 skipped at core, 6 open; all 40 days ago.
    await accept('skip', 6);
    for (let seq = 1; seq <= 4; seq++) await stages('skip', seq);
    await stages('skip', 5, 'preprocess');
    await markBlocked(deps(), 'core', { sourceId: 'skip', seq: 5, epoch: 1 }, 'bad');
    expect((await skipRecord(db.pool, 'skip', 5, 'test')).ok).toBe(true);
    await age('skip', 6, 40);
    // young: 1-3 delivered a day ago.
    await accept('young', 3);
    for (let seq = 1; seq <= 3; seq++) await stages('young', seq);
    await age('young', 3, 1);

    // Batches of 4: old goes 1-4, then 5-6 (stops at the blocked 7); skip 1-4, then 5.
    const removed = await retention().runOnce();
    expect(removed.recordsRemoved).toBe(6 + 5);
    // Each record had 5 stage rows and a delivery, the skipped one 2 stage rows (inbound, preprocess).
    expect(removed.rowsRemoved).toBe(6 * 7 + 4 * 7 + 3);
    expect(await seqs('records', 'old')).toEqual([7, 8, 9]);
    expect(await seqs('records', 'skip')).toEqual([6]);
    expect(await seqs('records', 'young')).toEqual([1, 2, 3]);
    for (const table of ['stage_inbound', 'stage_preprocess']) expect(await seqs(table, 'old')).toEqual([7, 8, 9]);
    for (const table of ['stage_core', 'deliveries']) expect(await seqs(table, 'old')).toEqual([]);
    expect(await seqs('deliveries', 'young')).toEqual([1, 2, 3]);
    // The dead letter stays (the operators' record of the skip).
    expect((await db.pool.query(`SELECT seq::int FROM dead_letters WHERE source_id = 'skip'`)).rows).toEqual([{ seq: 5 }]);
    // In the middle of deliveries, the checker holds: each source's records are retained_from..last_seq.
    const report = await verifyInvariants(db.pool, { sources: ['old', 'skip', 'young'] });
    expect(violations(report)).toEqual([]);
    expect(await retentionView(db.pool)).toMatchObject({ passes: 1, recordsRemoved: 11, rowsRemoved: 73 });
    // Nothing more to remove.
    expect((await retention().runOnce()).recordsRemoved).toBe(0);
  });

  it('keeps ids within the retention: a resubmission of a kept id is a duplicate; the order goes on', async () => {
    const again = await checkpointRecords(db.pool, 'old', [{ id: 'r8', payload: { amount: 8 }, hash: 'hr8' }]);
    expect(again).toMatchObject({ ok: true, records: [{ id: 'r8', seq: 8, duplicate: true }] });
    // The blocked record is skipped; the rest of the source is delivered, in order, after the removal.
    expect((await skipRecord(db.pool, 'old', 7, 'test')).ok).toBe(true);
    await accept('old', 2, 'n');
    for (const seq of [8, 9, 10, 11]) await stages('old', seq);
    expect(await seqs('deliveries', 'old')).toEqual([8, 9, 10, 11]);
    const report = await verifyInvariants(db.pool, { sources: ['old'], expectDrained: true });
    expect(violations(report)).toEqual([]);
    expect(report.records).toEqual({ delivered: 4, skipped: 1 });
  });

  it('removes nothing without the control lease', async () => {
    await accept('nolease', 2);
    for (const seq of [1, 2]) await stages('nolease', seq);
    await age('nolease', 2, 40);
    const other = new Retention({ pool: db.pool, logger, retentionMs: 30 * DAY, intervalMs: 60_000, batch: 10 });
    expect(await other.runOnce()).toEqual({ recordsRemoved: 0, rowsRemoved: 0 });
    expect(await seqs('records', 'nolease')).toEqual([1, 2]);
  });
});
