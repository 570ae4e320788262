// The start window's read against real Postgres: the never-started records a source's window lets
// in, and whether more wait beyond it (what tells the API which sources have a backlog).
import { checkpointRecords } from '../../src/db/checkpoint';
import { unstartedInWindow } from '../../src/db/queries';
import { claimStarts } from '../../src/db/relay-queries';
import { createTestDb, type TestDb } from '../helpers/db';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb('startwindow');
});
afterAll(async () => {
  await db.drop();
});

async function submit(sourceId: string, n: number) {
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${i + 1}`, payload: { amount: i + 1 }, hash: `h${i + 1}` }));
  const res = await checkpointRecords(db.pool, sourceId, items);
  if (!res.ok) throw new Error('conflict');
}

describe('unstartedInWindow', () => {
  it('returns the never-started records inside the window, and whether others wait beyond it', async () => {
    await submit('w1', 10);
    await claimStarts(db.pool, [{ source_id: 'w1', seq: 1 }], { name: 'east', epoch: 1 }, null);
    // Inbound watermark 0: a window of 3 lets in seqs 1 to 3, of which 1 is started.
    expect(await unstartedInWindow(db.pool, 'w1', 3)).toEqual({ seqs: [2, 3], beyond: true });
    expect(await unstartedInWindow(db.pool, 'w1', 1)).toEqual({ seqs: [], beyond: true });
    expect(await unstartedInWindow(db.pool, 'w1', 10)).toEqual({ seqs: [2, 3, 4, 5, 6, 7, 8, 9, 10], beyond: false });
    await db.pool.query(`UPDATE watermarks SET watermark = 8 WHERE source_id = 'w1' AND stage = 'inbound'`);
    expect(await unstartedInWindow(db.pool, 'w1', 1)).toEqual({ seqs: [2, 3, 4, 5, 6, 7, 8, 9], beyond: true });
    expect(await unstartedInWindow(db.pool, 'w1', 2)).toEqual({ seqs: [2, 3, 4, 5, 6, 7, 8, 9, 10], beyond: false });
  });

  it('finds nothing for a source whose records have all started', async () => {
    await submit('w2', 2);
    await claimStarts(
      db.pool,
      [
        { source_id: 'w2', seq: 1 },
        { source_id: 'w2', seq: 2 },
      ],
      { name: 'east', epoch: 1 },
      null,
    );
    expect(await unstartedInWindow(db.pool, 'w2', 4)).toEqual({ seqs: [], beyond: false });
  });
});
