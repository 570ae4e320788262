// The stage write against real Postgres: gate, idempotency, fencing, faults, skips, concurrency.
import { ApplicationFailure } from '@temporalio/common';
import fc from 'fast-check';
import { markBlocked, runStage, type StageWriteDeps } from '../../src/activities/stage-write';
import { checkpointRecords } from '../../src/db/checkpoint';
import { skipRecord } from '../../src/db/operator';
import { verifyInvariants, violations } from '../../src/db/verify';
import { withTransaction } from '../../src/db/pool';
import { skippedRunEnd } from '../../src/db/skipped-run';
import { advanceWatermark } from '../../src/contracts/gate';
import { STAGES, type Stage } from '../../src/contracts/names';
import { defaultWork } from '../../src/stages/work';
import { createTestDb, type TestDb } from '../helpers/db';

let db: TestDb;
let deps: StageWriteDeps;

beforeAll(async () => {
  db = await createTestDb('stagewrite');
  deps = { pool: db.pool, region: 'east', work: defaultWork };
});
afterAll(() => db.drop());

async function submit(sourceId: string, n: number, payload: (i: number) => Record<string, unknown> = (i) => ({ amount: i })) {
  const items = Array.from({ length: n }, (_, i) => ({
    id: `r${i + 1}`,
    payload: payload(i + 1),
    hash: `h${i + 1}-${JSON.stringify(payload(i + 1))}`,
  }));
  const res = await checkpointRecords(db.pool, sourceId, items);
  if (!res.ok) throw new Error('conflict');
  return res.records.map((r) => r.seq);
}

const task = (sourceId: string, seq: number, epoch = 1) => ({ sourceId, seq, epoch });

function failureType(err: unknown): string | undefined {
  return err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined;
}

async function waiters(sourceId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ w: string }>(
    `SELECT stage || ':' || seq AS w FROM gate_waiters WHERE source_id = $1 ORDER BY stage, seq`,
    [sourceId],
  );
  return rows.map((r) => r.w);
}

describe('the gate between stage writes', () => {
  it('registers a record that finds the gate closed, and only then asks its predecessor to signal it', async () => {
    await submit('reg', 4);
    expect((await runStage(deps, 'inbound', task('reg', 1))).outcome).toBe('done');
    // An attempt close enough behind to wait in its activity does not register; further behind, or
    // its last attempt, it does.
    expect(await runStage(deps, 'inbound', task('reg', 3), 1)).toMatchObject({ outcome: 'waiting', registered: false });
    expect(await waiters('reg')).toEqual([]);
    expect((await runStage(deps, 'inbound', task('reg', 3))).outcome).toBe('waiting');
    expect(await runStage(deps, 'inbound', task('reg', 4), 1)).toMatchObject({ outcome: 'waiting', registered: true });
    expect(await waiters('reg')).toEqual(['inbound:3', 'inbound:4']);
    // 2 finishes: 3 is first in line and registered, so 2's write says wake; 4 stays registered.
    expect(await runStage(deps, 'inbound', task('reg', 2))).toMatchObject({ outcome: 'done', wake: true });
    expect(await waiters('reg')).toEqual(['inbound:4']);
    expect(await runStage(deps, 'inbound', task('reg', 3))).toMatchObject({ outcome: 'done', wake: true });
    expect(await runStage(deps, 'inbound', task('reg', 4))).toMatchObject({ outcome: 'done', wake: false });
    expect(await waiters('reg')).toEqual([]);
  });
});

describe('stage write', () => {
  it('waits for the predecessor, then writes once; a repeat is "already"', async () => {
    await submit('a', 2);
    const early = await runStage(deps, 'inbound', task('a', 2));
    expect(early.outcome).toBe('waiting');
    expect((await db.pool.query("SELECT count(*)::int AS n FROM stage_inbound WHERE source_id='a'")).rows[0].n).toBe(0);
    expect((await runStage(deps, 'inbound', task('a', 1))).outcome).toBe('done');
    const second = await runStage(deps, 'inbound', task('a', 2));
    // Record 2 registered when it found the gate closed (its workflow then waits for a signal); its
    // own write wakes no one (record 3 does not exist).
    expect(second).toEqual({
      outcome: 'done',
      wake: false,
      watermarks: { inbound: 2, preprocess: 0, core: 0, postprocess: 0, outbound: 0 },
    });
    expect((await runStage(deps, 'inbound', task('a', 2))).outcome).toBe('already');
    expect((await db.pool.query("SELECT count(*)::int AS n FROM stage_inbound WHERE source_id='a'")).rows[0].n).toBe(2);
  });

  it('runs all five stages into deliveries and marks the record delivered', async () => {
    await submit('b', 1);
    for (const stage of STAGES) expect((await runStage(deps, stage, task('b', 1))).outcome).toBe('done');
    const rec = await db.pool.query("SELECT status FROM records WHERE source_id='b' AND seq=1");
    expect(rec.rows[0].status).toBe('delivered');
    const d = await db.pool.query("SELECT output FROM deliveries WHERE source_id='b'");
    expect(d.rows[0].output).toMatchObject({ key: 'b:1', recordId: 'r1' });
  });

  it("returns, with the checkpoint, what the new records' starts need: the active region, the watermarks and their identities", async () => {
    const first = await checkpointRecords(db.pool, 'ctx', [{ id: 'x1', payload: { amount: 1 }, hash: 'hx1' }]);
    // A new source: its watermark rows are created by this very statement, so none are read yet.
    expect(first).toMatchObject({ ok: true, context: { region: { name: 'east', active: true, epoch: 1 }, watermarks: {} } });
    expect((await runStage(deps, 'inbound', task('ctx', 1))).outcome).toBe('done');
    const second = await checkpointRecords(db.pool, 'ctx', [
      { id: 'x1', payload: { amount: 1 }, hash: 'hx1' },
      { id: 'x2', payload: { amount: 2 }, hash: 'hx2' },
    ]);
    if (!second.ok) throw new Error('conflict');
    expect(second.context?.watermarks).toEqual({ inbound: 1, preprocess: 0, core: 0, postprocess: 0, outbound: 0 });
    // Only the record this call inserted, as the workflow's start shows it (no trace: tracing is off).
    expect(second.fresh).toEqual([{ seq: 2, recordId: 'x2', payloadHash: 'hx2', traceparent: null }]);
    expect(second.newSeqs).toEqual([2]);
  });

  it('fences a writer whose epoch is not the active one, and a region that is not active', async () => {
    await submit('c', 1);
    await expect(runStage(deps, 'inbound', task('c', 1, 2))).rejects.toMatchObject({ type: 'Fenced', nonRetryable: true });
    await expect(runStage({ ...deps, region: 'west' }, 'inbound', task('c', 1))).rejects.toMatchObject({
      type: 'Fenced',
      nonRetryable: true,
    });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM stage_inbound WHERE source_id='c'")).rows[0].n).toBe(0);
  });

  it('fails with a retryable dependency error while a fault is injected, only where it would call it', async () => {
    await submit('d', 2);
    await db.pool.query("INSERT INTO faults (region, stage) VALUES ('east', 'inbound')");
    try {
      // Record 2's gate is closed: it waits for record 1 (registered), it does not fail on the fault.
      expect(await runStage(deps, 'inbound', task('d', 2))).toMatchObject({ outcome: 'waiting', registered: true });
      const err = await runStage(deps, 'inbound', task('d', 1)).catch((e) => e);
      expect(failureType(err)).toBe('DependencyUnavailable');
      expect((err as ApplicationFailure).nonRetryable).toBeFalsy();
      // another region, or another stage, is not affected
      await db.pool.query("INSERT INTO faults (region, stage) VALUES ('west', 'preprocess')");
    } finally {
      await db.pool.query("DELETE FROM faults WHERE region='east'");
    }
    expect((await runStage(deps, 'inbound', task('d', 1))).outcome).toBe('done');
    expect((await runStage(deps, 'preprocess', task('d', 1))).outcome).toBe('done');
    await db.pool.query('DELETE FROM faults');
  });

  it('lets later records pass a skipped one at every stage it had not reached', async () => {
    await submit('e', 3, (i) => (i === 2 ? { amount: 'bad' } : { amount: i }));
    for (const stage of ['inbound', 'preprocess'] as Stage[]) {
      for (const seq of [1, 2, 3]) expect((await runStage(deps, stage, task('e', seq))).outcome).toBe('done');
    }
    expect((await runStage(deps, 'core', task('e', 1))).outcome).toBe('done');
    await expect(runStage(deps, 'core', task('e', 2))).rejects.toThrow(/amount must be a finite number/);
    await db.pool.query("UPDATE records SET status='blocked', blocked_stage='core' WHERE source_id='e' AND seq=2");
    expect((await runStage(deps, 'core', task('e', 3))).outcome).toBe('waiting');
    const skipped = await skipRecord(db.pool, 'e', 2, 'test');
    expect(skipped).toMatchObject({ ok: true, stage: 'core', watermarks: { core: 2, postprocess: 0 } });
    for (const stage of ['core', 'postprocess', 'outbound'] as Stage[]) {
      if (stage !== 'core') expect((await runStage(deps, stage, task('e', 1))).outcome).toBe('done');
      expect((await runStage(deps, stage, task('e', 3))).outcome).toBe('done');
    }
    const delivered = await db.pool.query("SELECT seq FROM deliveries WHERE source_id='e' ORDER BY id");
    expect(delivered.rows.map((r) => r.seq)).toEqual([1, 3]);
    expect((await db.pool.query("SELECT stage, reason FROM dead_letters WHERE source_id='e'")).rows).toEqual([
      { stage: 'core', reason: expect.stringContaining('test') },
    ]);
    expect(await skipRecord(db.pool, 'e', 3, 'x')).toEqual({ ok: false, reason: 'not_blocked', status: 'delivered' });
  });

  it('passes a run of more than 1000 consecutive skipped records (a stage write)', async () => {
    await submit('g', 1503);
    await db.pool.query("UPDATE records SET status = 'skipped' WHERE source_id = 'g' AND seq BETWEEN 2 AND 1502");
    expect((await runStage(deps, 'inbound', task('g', 1))).watermarks.inbound).toBe(1502);
    expect((await runStage(deps, 'inbound', task('g', 1503))).outcome).toBe('done');
  });

  it('passes a run of more than 1000 consecutive skipped records (an operator skip)', async () => {
    await submit('h', 1202);
    await db.pool.query("UPDATE records SET status = 'skipped' WHERE source_id = 'h' AND seq BETWEEN 2 AND 1201");
    await db.pool.query("UPDATE records SET status = 'blocked', blocked_stage = 'inbound' WHERE source_id = 'h' AND seq = 1");
    const skipped = await skipRecord(db.pool, 'h', 1, 'test');
    expect(skipped).toMatchObject({ ok: true, watermarks: { inbound: 1201, outbound: 1201 } });
    expect((await runStage(deps, 'inbound', task('h', 1202))).outcome).toBe('done');
  });

  it('finds the end of a skipped run in SQL exactly as the pure advanceWatermark does', async () => {
    const n = 12;
    await submit('k', n);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: n, maxLength: n }), fc.integer({ min: 0, max: n }), async (flags, seq) => {
        const skipped = flags.flatMap((f, i) => (f ? [i + 1] : []));
        await db.pool.query(
          "UPDATE records SET status = CASE WHEN seq = ANY($1::bigint[]) THEN 'skipped' ELSE 'accepted' END WHERE source_id = 'k'",
          [skipped],
        );
        const sql = await withTransaction(db.pool, (c) => skippedRunEnd(c, 'k', seq));
        expect(sql).toBe(
          advanceWatermark(
            seq,
            skipped.filter((s) => s > seq),
          ),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('ignores a late markBlocked for a stage a newer attempt has already finished', async () => {
    await submit('m', 2);
    const status = async (seq: number) =>
      (await db.pool.query("SELECT status, blocked_stage FROM records WHERE source_id = 'm' AND seq = $1", [seq])).rows[0];
    for (const stage of ['inbound', 'preprocess'] as Stage[]) expect((await runStage(deps, stage, task('m', 1))).outcome).toBe('done');
    // The attempt that timed out at inbound reports its rejection after a newer one moved on.
    expect(await markBlocked(deps, 'inbound', task('m', 1), 'late rejection')).toBe(false);
    expect(await status(1)).toEqual({ status: 'processing', blocked_stage: null });
    // A rejection at a stage the record has not finished still blocks it.
    expect(await markBlocked(deps, 'core', task('m', 1), 'amount is bad')).toBe(true);
    expect(await status(1)).toEqual({ status: 'blocked', blocked_stage: 'core' });
    expect(await markBlocked(deps, 'inbound', task('m', 2), 'rejected')).toBe(true);
    expect(await status(2)).toEqual({ status: 'blocked', blocked_stage: 'inbound' });
  });

  it('keeps id order equal to seq order when records race in random order', async () => {
    const n = 40;
    await submit('f', n);
    // Every record retries its stages concurrently, like workflows would, in shuffled order.
    const runRecord = async (seq: number) => {
      for (const stage of STAGES) {
        for (;;) {
          const r = await runStage(deps, stage, task('f', seq));
          if (r.outcome !== 'waiting') break;
          await new Promise((res) => setTimeout(res, Math.random() * 5));
        }
      }
    };
    const order = Array.from({ length: n }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    await Promise.all(order.map(runRecord));
    const report = await verifyInvariants(db.pool, { sources: ['f'], expectDrained: true });
    expect(violations(report)).toEqual([]);
    expect(report).toMatchObject({ ok: true, open: 0, records: { delivered: n } });
    expect(report.rows.deliveries).toBe(n);
  });
});
