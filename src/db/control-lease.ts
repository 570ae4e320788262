// The control role's lease (migration 0009): taking and renewing it, giving it up, reading who holds
// it, operators' reconcile requests, and the state the holder records for every replica to serve.
import type { Pool } from './pool';

const LEASE = 'control';

export interface LeaseRow {
  holder: string | null;
  token: number;
  acquiredAt: Date | null;
  /** Null before anyone took it. */
  expiresAt: Date | null;
  /** Whether it has not expired, by the database's clock. */
  live: boolean;
  reconcileRequests: number;
}

/**
 * Takes the lease when it is free or expired (a new token), or renews it when `holder` holds it
 * with `token` (the same token); null when another process holds it. `token` -1: not held yet.
 */
export async function acquireOrRenew(
  pool: Pool,
  holder: string,
  token: number,
  ttlMs: number,
): Promise<{ token: number; reconcileRequests: number } | null> {
  const { rows } = await pool.query<{ token: number; reconcile_requests: number }>({
    name: 'control-lease-acquire',
    text: `UPDATE control_lease SET
             token = CASE WHEN holder = $2 AND token = $3 AND expires_at > now() THEN token ELSE token + 1 END,
             acquired_at = CASE WHEN holder = $2 AND token = $3 AND expires_at > now() THEN acquired_at ELSE now() END,
             holder = $2, renewed_at = now(), expires_at = now() + make_interval(secs => $4::float8 / 1000)
           WHERE name = $1 AND (expires_at <= now() OR (holder = $2 AND token = $3))
           RETURNING token::int, reconcile_requests::int`,
    values: [LEASE, holder, token, ttlMs],
  });
  return rows[0] ? { token: rows[0].token, reconcileRequests: rows[0].reconcile_requests } : null;
}

/** Gives the lease up (a clean shutdown): another replica takes it at its next try, not after the expiry. */
export async function releaseLease(pool: Pool, holder: string, token: number): Promise<void> {
  await pool.query(`UPDATE control_lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND token = $3`, [LEASE, holder, token]);
}

export async function readLease(pool: Pool): Promise<LeaseRow> {
  const { rows } = await pool.query<LeaseRow>(
    `SELECT holder, token::int, acquired_at AS "acquiredAt", nullif(expires_at, '-infinity') AS "expiresAt", expires_at > now() AS live,
            reconcile_requests::int AS "reconcileRequests"
       FROM control_lease WHERE name = $1`,
    [LEASE],
  );
  if (!rows[0]) throw new Error('no control lease row (migration 0009 not applied?)');
  return rows[0];
}

/** Asks the holder for a reconcile pass; returns the request's number (the holder's report names the last one it served). */
export async function requestReconcile(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `UPDATE control_lease SET reconcile_requests = reconcile_requests + 1 WHERE name = $1 RETURNING reconcile_requests::int AS n`,
    [LEASE],
  );
  return rows[0].n;
}

/** Records a value of the holder's (only while `token` is the live lease); false when it is not. */
export async function writeControlState(pool: Pool, name: string, value: unknown, token: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO control_state (name, value, updated_at) SELECT $1, $2, now() WHERE control_lease_valid($3)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [name, JSON.stringify(value), token],
  );
  return (rowCount ?? 0) > 0;
}

export async function readControlState<T>(pool: Pool, name: string): Promise<T | undefined> {
  const { rows } = await pool.query<{ value: T }>('SELECT value FROM control_state WHERE name = $1', [name]);
  return rows[0]?.value;
}
