// The invariant checker (src/db/verify.ts) against small datasets built by hand in a scratch
// database: a clean one passes, and each way of breaking the tables fails its own check (and only
// the checks that break has to fail).
import { stageTable } from '../../src/db/stages';
import { verifyInvariants, violations, type VerifyOptions } from '../../src/db/verify';
import { STAGES, type Stage } from '../../src/contracts/names';
import { createTestDb, type TestDb } from '../helpers/db';
import { uniqueSource } from '../helpers/records';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb('verify');
});
afterAll(() => db.drop());

type Kind = 'delivered' | { skippedAt: Stage } | { openAt: Stage };

const row = (table: string, src: string, seq: number) =>
  db.pool.query(`INSERT INTO ${table} (source_id, seq, region, epoch, output) VALUES ($1, $2, 'east', 1, '{}')`, [src, seq]);

/**
 * A source whose records 1..n are what a correct run leaves, written in seq order: delivered (a row
 * in every stage table and a delivery), skipped at a stage (rows before it, a dead letter at it), or
 * still processing at a stage (rows before it).
 */
async function build(kinds: Kind[]): Promise<string> {
  const src = uniqueSource('v');
  await db.pool.query('INSERT INTO sources (source_id, last_seq) VALUES ($1, $2)', [src, kinds.length]);
  for (const [i, kind] of kinds.entries()) {
    const seq = i + 1;
    const skippedAt = typeof kind === 'object' && 'skippedAt' in kind ? kind.skippedAt : null;
    const status = kind === 'delivered' ? 'delivered' : skippedAt ? 'skipped' : 'processing';
    const upTo = kind === 'delivered' ? STAGES.length : STAGES.indexOf(skippedAt ?? (kind as { openAt: Stage }).openAt);
    await db.pool.query(
      `INSERT INTO records (source_id, seq, record_id, payload, payload_hash, status, blocked_stage, region, epoch)
       VALUES ($1, $2, $3, '{}', 'h', $4, $5, 'east', 1)`,
      [src, seq, `r${seq}`, status, skippedAt],
    );
    for (const stage of STAGES.slice(0, upTo)) await row(stageTable(stage), src, seq);
    if (kind === 'delivered') await row('deliveries', src, seq);
    if (skippedAt)
      await db.pool.query('INSERT INTO dead_letters (source_id, seq, stage, reason) VALUES ($1, $2, $3, $4)', [src, seq, skippedAt, 'bad']);
  }
  return src;
}

const check = (src: string, opts: VerifyOptions = {}) => verifyInvariants(db.pool, { sources: [src], ...opts });
const CLEAN: Kind[] = ['delivered', 'delivered', { skippedAt: 'core' }, 'delivered'];

describe('the invariant checker', () => {
  it('passes a clean dataset: delivered records, one skipped at core, one still open', async () => {
    const src = await build([...CLEAN, { openAt: 'preprocess' }]);
    const report = await check(src);
    expect(violations(report)).toEqual([]);
    expect(report).toMatchObject({ ok: true, sources: 1, open: 1, records: { delivered: 3, skipped: 1, processing: 1 } });
    expect(report.rows).toEqual({
      stage_inbound: 5,
      stage_preprocess: 4,
      stage_core: 3,
      stage_postprocess: 3,
      stage_outbound: 3,
      deliveries: 3,
    });
  });

  it('fails on an open record when the caller expects a drained system, and says where it is', async () => {
    const src = await build([...CLEAN, { openAt: 'preprocess' }]);
    const report = await check(src, { expectDrained: true });
    expect(report.ok).toBe(false);
    expect(report.openRecords).toEqual([{ sourceId: src, seq: 5, status: 'processing', stage: 'preprocess', region: 'east' }]);
    expect(violations(report)).toEqual([`1 records still open (first: ${src} #5 processing at preprocess)`]);
    // A blocked record is open too, at its blocked stage.
    await db.pool.query(`UPDATE records SET status = 'blocked', blocked_stage = 'preprocess' WHERE source_id = $1 AND seq = 5`, [src]);
    expect(violations(await check(src, { expectDrained: true }))).toEqual([
      `1 records still open (first: ${src} #5 blocked at preprocess)`,
    ]);
    expect((await check(await build(CLEAN), { expectDrained: true })).ok).toBe(true);
  });

  it('fails on a delivered record missing a stage row or its delivery', async () => {
    const stageGap = await build(CLEAN);
    await db.pool.query('DELETE FROM stage_postprocess WHERE source_id = $1 AND seq = 2', [stageGap]);
    const r1 = await check(stageGap);
    expect(r1.ok).toBe(false);
    expect(r1.notOnce).toEqual([{ table: 'stage_postprocess', sourceId: stageGap, seq: 2, rows: 0 }]);
    expect(violations(r1)).toHaveLength(1);

    const lostDelivery = await build(CLEAN);
    await db.pool.query('DELETE FROM deliveries WHERE source_id = $1 AND seq = 4', [lostDelivery]);
    const r2 = await check(lostDelivery);
    expect(r2.notOnce).toEqual([{ table: 'deliveries', sourceId: lostDelivery, seq: 4, rows: 0 }]);
    expect(r2.deliveryCounts).toEqual([{ sourceId: lostDelivery, deliveries: 2, delivered: 3 }]);
    expect(violations(r2)).toHaveLength(2);
  });

  it('fails on a delivered record with two rows in a table, should the unique key ever go', async () => {
    const src = await build(CLEAN);
    const { rows } = await db.pool.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid = 'stage_core'::regclass AND contype = 'u'`,
    );
    await db.pool.query(`ALTER TABLE stage_core DROP CONSTRAINT ${rows[0].conname}`);
    try {
      await row('stage_core', src, 2);
      const report = await check(src);
      expect(report.notOnce).toEqual([{ table: 'stage_core', sourceId: src, seq: 2, rows: 2 }]);
      // Written after seq 4, the second row is also out of order.
      expect(report.orderViolations).toEqual([{ table: 'stage_core', sourceId: src, count: 1, firstAtSeq: 2 }]);
      expect(report.ok).toBe(false);
    } finally {
      await db.pool.query(
        'DELETE FROM stage_core WHERE source_id = $1 AND seq = 2 AND id = (SELECT max(id) FROM stage_core WHERE source_id = $1)',
        [src],
      );
      await db.pool.query(`ALTER TABLE stage_core ADD CONSTRAINT ${rows[0].conname} UNIQUE (source_id, seq)`);
    }
    expect((await check(src)).ok).toBe(true);
  });

  it('fails on rows out of seq order', async () => {
    const src = await build(CLEAN);
    // seq 1 rewritten after seq 2 (and 4): a later id, an earlier seq.
    await db.pool.query('DELETE FROM stage_outbound WHERE source_id = $1 AND seq = 1', [src]);
    await row('stage_outbound', src, 1);
    const report = await check(src);
    expect(report.orderViolations).toEqual([{ table: 'stage_outbound', sourceId: src, count: 1, firstAtSeq: 1 }]);
    expect(violations(report)).toEqual([`stage_outbound: 1 rows of ${src} out of seq order (first at seq 1)`]);
  });

  it('fails on a skipped record with rows at or past its blocked stage, a delivery, a missing earlier row, or no or another dead letter', async () => {
    const problems = async (src: string) => {
      const report = await check(src);
      expect(report.ok).toBe(false);
      return report.badSkips.map((s) => `#${s.seq} ${s.problem}`);
    };
    const atStage = await build(CLEAN);
    await row('stage_core', atStage, 3);
    expect(await problems(atStage)).toEqual(['#3 1 rows in stage_core (at or past its blocked stage: 0)']);

    const past = await build(CLEAN);
    await row('stage_outbound', past, 3);
    expect(await problems(past)).toEqual(['#3 1 rows in stage_outbound (at or past its blocked stage: 0)']);

    const delivered = await build(CLEAN);
    await row('deliveries', delivered, 3);
    expect(await problems(delivered)).toEqual(['#3 1 rows in deliveries (at or past its blocked stage: 0)']);
    const r = await check(delivered);
    expect(r.orphans).toEqual([{ table: 'deliveries', sourceId: delivered, seq: 3, status: 'skipped' }]);
    expect(r.deliveryCounts).toEqual([{ sourceId: delivered, deliveries: 4, delivered: 3 }]);

    const earlierGap = await build(CLEAN);
    await db.pool.query('DELETE FROM stage_inbound WHERE source_id = $1 AND seq = 3', [earlierGap]);
    expect(await problems(earlierGap)).toEqual(['#3 0 rows in stage_inbound (before its blocked stage: 1)']);

    const noLetter = await build(CLEAN);
    await db.pool.query('DELETE FROM dead_letters WHERE source_id = $1', [noLetter]);
    expect(await problems(noLetter)).toEqual(['#3 no dead letter']);

    const otherLetter = await build(CLEAN);
    await db.pool.query(`UPDATE dead_letters SET stage = 'preprocess' WHERE source_id = $1`, [otherLetter]);
    expect(await problems(otherLetter)).toEqual(['#3 dead letter at preprocess, blocked at core']);

    const noStage = await build(CLEAN);
    await db.pool.query('UPDATE records SET blocked_stage = NULL WHERE source_id = $1 AND seq = 3', [noStage]);
    expect(await problems(noStage)).toEqual([
      '#3 1 rows in stage_inbound (at or past its blocked stage: 0)',
      '#3 1 rows in stage_preprocess (at or past its blocked stage: 0)',
      '#3 blocked_stage is not set',
    ]);
  });

  it('fails on rows of no record, deliveries of a record not delivered, and dead letters of a record not skipped', async () => {
    const stray = await build(CLEAN);
    await row('stage_preprocess', stray, 9);
    const r1 = await check(stray);
    expect(r1.orphans).toEqual([{ table: 'stage_preprocess', sourceId: stray, seq: 9, status: null }]);
    expect(violations(r1)).toHaveLength(1);

    // A delivery whose record went back to processing (or was never marked delivered).
    const undelivered = await build(CLEAN);
    await db.pool.query(`UPDATE records SET status = 'processing' WHERE source_id = $1 AND seq = 4`, [undelivered]);
    const r2 = await check(undelivered);
    expect(r2.orphans).toEqual([{ table: 'deliveries', sourceId: undelivered, seq: 4, status: 'processing' }]);
    expect(r2.deliveryCounts).toEqual([{ sourceId: undelivered, deliveries: 3, delivered: 2 }]);

    const letter = await build(CLEAN);
    await db.pool.query('INSERT INTO dead_letters (source_id, seq, stage) VALUES ($1, 2, $2)', [letter, 'core']);
    const r3 = await check(letter);
    expect(r3.orphans).toEqual([{ table: 'dead_letters', sourceId: letter, seq: 2, status: 'delivered' }]);
    expect(violations(r3)).toHaveLength(1);
  });

  it('fails on a source whose records are not seqs 1..last_seq', async () => {
    const behind = await build(CLEAN);
    // The counter says 5: a fifth record was accepted and is gone.
    await db.pool.query('UPDATE sources SET last_seq = 5 WHERE source_id = $1', [behind]);
    const r1 = await check(behind);
    expect(r1.seqGaps).toEqual([{ sourceId: behind, lastSeq: 5, missing: 1, beyond: 0 }]);
    expect(violations(r1)).toEqual([
      `sources whose records are not seqs 1..last_seq: 1 (first: ${behind}: last_seq 5, 1 missing, 0 beyond)`,
    ]);

    // The counter says 3: record 4 has a seq the checkpoint never handed out.
    const ahead = await build(CLEAN);
    await db.pool.query('UPDATE sources SET last_seq = 3 WHERE source_id = $1', [ahead]);
    const r2 = await check(ahead);
    expect(r2.seqGaps).toEqual([{ sourceId: ahead, lastSeq: 3, missing: 0, beyond: 1 }]);
    expect(violations(r2)).toHaveLength(1);
  });

  it('fails when a source has deliveries without records (counted per source)', async () => {
    const src = uniqueSource('v');
    await row('deliveries', src, 1);
    const report = await check(src);
    expect(report.deliveryCounts).toEqual([{ sourceId: src, deliveries: 1, delivered: 0 }]);
    expect(report.orphans).toEqual([{ table: 'deliveries', sourceId: src, seq: 1, status: null }]);
  });

  it('judges only the sources asked for', async () => {
    const broken = await build(CLEAN);
    await db.pool.query('DELETE FROM stage_core WHERE source_id = $1 AND seq = 1', [broken]);
    const clean = await build(CLEAN);
    expect((await check(clean)).ok).toBe(true);
    expect((await verifyInvariants(db.pool, { sourcePrefix: clean })).ok).toBe(true);
    expect((await verifyInvariants(db.pool, { sourcePrefix: 'v-' })).ok).toBe(false);
  });
});
