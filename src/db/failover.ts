// Failover: the switch of the active region, in one transaction that also fences the old region.
import type { Pool } from './pool';
import { withTransaction } from './pool';
import type { RegionRow } from './regions';
import type { FailoverResult } from '../contracts/failover';

export class FailoverRefused extends Error {
  constructor(
    readonly code: 'unknown_region' | 'already_active' | 'cooldown' | 'not_control_holder',
    message: string,
  ) {
    super(message);
  }
}

export class FailoverBusy extends Error {
  readonly code = 'failover_busy';
}

// The first wait lets writes in flight finish; after that the old region's sessions are ended and
// the switch tries again in shorter waits, until the overall deadline.
const FIRST_WAIT_MS = 3_000;
const RETRY_WAIT_MS = 1_000;
export const FAILOVER_DEADLINE_MS = 10_000;

/**
 * Makes `to` the active region at a new epoch. Every stage write checks its regions row FOR SHARE
 * in its own transaction, so this switch waits for writes in flight and every later write of the
 * old region sees the new epoch and is refused (Fenced). The switch takes the table in EXCLUSIVE
 * mode rather than the rows FOR UPDATE: row locks let new share lockers jump the queue, so a busy
 * region could starve the switch, while the table lock queue is fair (new writers wait behind it).
 * A writer that holds the lock and does not finish (a paused process) would hold the switch up:
 * its sessions are ended, which rolls its write back. Past the deadline: FailoverBusy.
 */
export interface FailoverOptions {
  /** Past this, FailoverBusy (default FAILOVER_DEADLINE_MS). */
  deadlineMs?: number;
  /** How long the first try waits for writes in flight before old-region sessions are ended (default FIRST_WAIT_MS). */
  firstWaitMs?: number;
  /** An automatic switch: only while this token is the control lease (the router's holder decides alone). */
  leaseToken?: number;
  /** An automatic switch: refused within this long of the last switch, so regions never flap. */
  cooldownMs?: number;
}

export async function failover(pool: Pool, to: string, opts: FailoverOptions = {}): Promise<FailoverResult> {
  const deadline = Date.now() + (opts.deadlineMs ?? FAILOVER_DEADLINE_MS);
  let fencedSessions = 0;
  for (let attempt = 0; ; attempt++) {
    const waitMs = Math.min(attempt === 0 ? (opts.firstWaitMs ?? FIRST_WAIT_MS) : RETRY_WAIT_MS, deadline - Date.now());
    if (waitMs <= 0) {
      throw new FailoverBusy(
        `the region switch could not get its lock within ${opts.deadlineMs ?? FAILOVER_DEADLINE_MS} ms (${fencedSessions} old-region sessions ended); retry`,
      );
    }
    try {
      return await withTransaction(pool, async (c) => {
        await c.query(`SELECT set_config('lock_timeout', $1, true)`, [`${waitMs}ms`]);
        await c.query('LOCK TABLE regions IN EXCLUSIVE MODE');
        // sinceMs: since the last switch (null: none yet, the regions as first seeded).
        const { rows } = await c.query<RegionRow & { sinceMs: number | null }>(
          `SELECT name, namespace, active, epoch,
                  (SELECT CASE WHEN max(epoch) > 1 THEN (extract(epoch FROM now() - max(updated_at)) * 1000)::float8 END FROM regions) AS "sinceMs"
             FROM regions ORDER BY name FOR UPDATE`,
        );
        const target = rows.find((r) => r.name === to);
        if (!target) throw new FailoverRefused('unknown_region', `no region ${to}; regions are ${rows.map((r) => r.name).join(', ')}`);
        if (target.active) throw new FailoverRefused('already_active', `${to} is already the active region`);
        if (opts.leaseToken !== undefined) {
          const { rows: lease } = await c.query<{ ok: boolean }>('SELECT control_lease_valid($1) AS ok', [opts.leaseToken]);
          if (!lease[0].ok) throw new FailoverRefused('not_control_holder', 'this process no longer holds the control role');
        }
        const sinceMs = rows[0]?.sinceMs ?? Infinity;
        if (opts.cooldownMs !== undefined && sinceMs < opts.cooldownMs) {
          throw new FailoverRefused(
            'cooldown',
            `the last switch was ${Math.round(sinceMs / 1000)} s ago; no automatic failover within ${Math.round(opts.cooldownMs / 1000)} s of one`,
          );
        }
        const from = rows.find((r) => r.active)?.name ?? 'none';
        const epoch = Math.max(...rows.map((r) => r.epoch)) + 1;
        await c.query('UPDATE regions SET active = (name = $1), epoch = $2, updated_at = now()', [to, epoch]);
        return { from, to, epoch, fencedSessions };
      });
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
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
