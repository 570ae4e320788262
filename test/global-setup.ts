// Once per `npm test`: make sure Postgres answers (local, else embedded) and the Temporal CLI
// exists (built once into its cache), and hand both to the test files through the environment.
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { ensureTemporalCli } from '../src/launcher/temporal-cli';
import { ensurePostgres } from '../src/launcher/postgres';

export default async function globalSetup(): Promise<void> {
  const config = loadConfig({ ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL });
  const pg = await ensurePostgres({
    databaseUrl: process.env.TEST_DATABASE_URL,
    dataDir: path.join(os.tmpdir(), 'record-pipeline-test-pg'),
    log: (line) => process.stderr.write(`[test setup] ${line}\n`),
  });
  process.env.TEST_DATABASE_URL = pg.databaseUrl;
  process.env.TEMPORAL_CLI = await ensureTemporalCli({
    explicit: process.env.TEMPORAL_CLI,
    cacheDir: config.TEMPORAL_CLI_CACHE,
    log: (line) => process.stderr.write(`[test setup] ${line}\n`),
  });
  // The tests start their own servers; a developer's settings must not leak into them.
  for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_ADDRESS_EAST', 'TEMPORAL_ADDRESS_WEST', 'DATABASE_URL', 'PORT']) delete process.env[key];
}
