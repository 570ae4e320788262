// The regions table: which region is active and the epoch that fences writers.
import type { RegionConfig } from '../config';
import type { Pool, PoolClient } from './pool';

export interface RegionRow {
  name: string;
  namespace: string;
  active: boolean;
  epoch: number;
  /** When the row last changed (a failover changes every row): for an inactive region, when it stopped being active or later. */
  updatedAt?: Date;
}

/** First start only: one row per configured region, `initial` active at epoch 1. */
export async function seedRegions(pool: Pool, regions: RegionConfig[], initial: string): Promise<void> {
  for (const r of regions) {
    await pool.query(`INSERT INTO regions (name, namespace, active, epoch) VALUES ($1, $2, $3, 1) ON CONFLICT (name) DO NOTHING`, [
      r.name,
      r.namespace,
      r.name === initial,
    ]);
  }
}

export async function listRegions(db: Pool | PoolClient): Promise<RegionRow[]> {
  const { rows } = await db.query<RegionRow>('SELECT name, namespace, active, epoch, updated_at AS "updatedAt" FROM regions ORDER BY name');
  return rows;
}

export async function activeRegion(db: Pool | PoolClient): Promise<RegionRow> {
  const { rows } = await db.query<RegionRow>({
    name: 'active-region',
    text: 'SELECT name, namespace, active, epoch FROM regions WHERE active',
  });
  if (!rows[0]) throw new Error('no active region: the regions table is empty (migrations not seeded?)');
  return rows[0];
}
