// Which process holds the control role, read from the lease row (every replica answers the same).
import type { ControlView } from '../contracts/control-role';
import { readLease } from '../db/control-lease';
import type { Pool } from '../db/pool';
import type { ControlLease } from '../control/lease';

export async function controlView(pool: Pool, lease: ControlLease | undefined): Promise<ControlView> {
  const row = await readLease(pool);
  return {
    role: lease ? 'on' : 'off',
    self: Boolean(lease?.held() && row.holder === lease.holder && row.live),
    holder: row.holder,
    live: row.live,
    token: row.token,
    since: row.acquiredAt?.toISOString() ?? null,
    expiresAt: row.expiresAt?.toISOString() ?? null,
  };
}
