// Where a watermark lands once `seq` has finished a stage: past the run of skipped records right
// after it. The SQL twin of advanceWatermark (contracts/gate), for runs of any length.
import type { PoolClient } from './pool';

/**
 * The last seq of the run of consecutive skipped records that starts at seq+1, or seq itself when
 * seq+1 is not skipped. Walks the run one primary-key probe per record, so a stage write pays for
 * the skipped records it passes and nothing else (a plain `LIMIT n` stalled at runs longer than n).
 */
export async function skippedRunEnd(c: PoolClient, sourceId: string, seq: number): Promise<number> {
  const { rows } = await c.query<{ last: number }>(
    `WITH RECURSIVE run (seq) AS (
       SELECT $2::bigint
       UNION ALL
       SELECT r.seq FROM records r JOIN run ON r.source_id = $1 AND r.seq = run.seq + 1
        WHERE r.status = 'skipped'
     )
     SELECT max(seq) AS last FROM run`,
    [sourceId, seq],
  );
  return rows[0].last;
}
