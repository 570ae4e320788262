// The pipeline's database, made ready before any process starts: created if missing, migrated,
// regions seeded. The active region is read here for the banner.
import type { Config } from '../config';
import { createPool } from '../db/pool';
import { prepareDatabase } from '../db/prepare';
import { activeRegion } from '../db/regions';
import { say } from './say';

/** Returns the name of the active region. */
export async function prepareLocalDatabase(config: Config, databaseUrl: string): Promise<string> {
  const pool = createPool({ connectionString: databaseUrl, applicationName: 'pipeline-supervisor' });
  const applied = await prepareDatabase({ ...config, databaseUrl }, pool, { create: true });
  if (applied.length) say(`migrations applied: ${applied.join(', ')}`);
  const active = await activeRegion(pool);
  await pool.end();
  return active.name;
}
