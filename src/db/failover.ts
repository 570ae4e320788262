// Failover: the switch of the active region, in one transaction that also fences the old region.
import type { Pool } from './pool';
import { withTransaction } from './pool';
import type { RegionRow } from './regions';

export class FailoverRefused extends Error {
  constructor(
    readonly code: 'unknown_region' | 'already_active',
    message: string,
  ) {
    super(message);
  }
}

export interface FailoverResult {
  from: string;
  to: string;
  epoch: number;
  /** Old-region database sessions ended because they held up the switch (a paused zombie). */
  fencedSessions: number;
}

const LOCK_TIMEOUT = '3s';

/**
 * Makes `to` the active region at a new epoch. Every stage write checks the regions row FOR SHARE in
 * its own transaction, so this UPDATE waits for writes in flight and every later write of the old
 * region sees the new epoch and is refused (Fenced). A writer that holds the lock and does not
 * finish (a paused process) would hold the switch up: after a short wait its sessions are ended,
 * which rolls its write back.
 */
export async function failover(pool: Pool, to: string): Promise<FailoverResult> {
  let fencedSessions = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await withTransaction(pool, async (c) => {
        await c.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
        const { rows } = await c.query<RegionRow>('SELECT name, namespace, active, epoch FROM regions ORDER BY name FOR UPDATE');
        const target = rows.find((r) => r.name === to);
        if (!target) throw new FailoverRefused('unknown_region', `no region ${to}; regions are ${rows.map((r) => r.name).join(', ')}`);
        if (target.active) throw new FailoverRefused('already_active', `${to} is already the active region`);
        const from = rows.find((r) => r.active)?.name ?? 'none';
        const epoch = Math.max(...rows.map((r) => r.epoch)) + 1;
        await c.query('UPDATE regions SET active = (name = $1), epoch = $2, updated_at = now()', [to, epoch]);
        return { from, to, epoch, fencedSessions };
      });
      return result;
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03' || attempt >= 2) throw err;
      fencedSessions += await endOtherRegionSessions(pool, to);
    }
  }
}

/** Ends the database sessions of every worker process outside region `keep` (their pools reconnect). */
export async function endOtherRegionSessions(pool: Pool, keep: string): Promise<number> {
  const { rows } = await pool.query<{ ended: boolean }>(
    `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
      WHERE application_name LIKE 'pipeline-worker:%' AND application_name NOT LIKE $1 AND pid <> pg_backend_pid()`,
    [`pipeline-worker:${keep}:%`],
  );
  return rows.filter((r) => r.ended).length;
}
