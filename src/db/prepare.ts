import type { Config } from '../config';
import { ensureDatabase, migrate } from './migrate';
import { seedRegions } from './regions';
import type { Pool } from './pool';

/** Creates the database if missing, applies migrations, seeds the regions table. Idempotent. */
export async function prepareDatabase(config: Config, pool: Pool, opts: { create?: boolean } = {}): Promise<string[]> {
  if (opts.create) await ensureDatabase(config.databaseUrl);
  const applied = await migrate(pool);
  await seedRegions(pool, config.regions, config.ACTIVE_REGION);
  return applied;
}
