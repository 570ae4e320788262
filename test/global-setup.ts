// Once per `npm test`: make sure Postgres answers (local, else embedded) and the Temporal CLI
// exists (built once into its cache; with TEMPORAL_SERVER=postgres the real server too), and hand
// both to the test files through the environment, with what the files of this run share: the name
// of the template every test database is copied from (migrated by the first file that needs one),
// the folder where the shared system is recorded, the admin token and this process's pid
// (test/global-teardown.ts stops and drops what they created).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { ensureTemporalCli } from '../src/launcher/temporal-cli';
import { ensurePostgres } from '../src/launcher/postgres';
import { ensureTemporalServer } from '../src/launcher/temporal-server';
import { ensureUiServer } from '../src/launcher/temporal-ui';
import { templateName } from '../harness/scratch-db';

export default async function globalSetup(): Promise<void> {
  const config = loadConfig({ ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL });
  const pg = await ensurePostgres({
    databaseUrl: process.env.TEST_DATABASE_URL,
    dataDir: path.join(os.tmpdir(), 'record-pipeline-test-pg'),
    log: (line) => process.stderr.write(`[test setup] ${line}\n`),
  });
  process.env.TEST_DATABASE_URL = pg.databaseUrl;
  process.env.TEST_TEMPLATE_DB = templateName('test');
  process.env.HARNESS_SHARED_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-shared-'));
  process.env.HARNESS_ADMIN_TOKEN = randomBytes(24).toString('hex');
  process.env.HARNESS_RUN_PID = String(process.pid);
  process.env.TEMPORAL_CLI = await ensureTemporalCli({
    explicit: process.env.TEMPORAL_CLI,
    cacheDir: config.TEMPORAL_CLI_CACHE,
    log: (line) => process.stderr.write(`[test setup] ${line}\n`),
  });
  // TEMPORAL_SERVER=postgres (npm run test:server): the real server, its SQL tool and the Web UI
  // server, built once here rather than inside the first system's boot timeout.
  if (config.TEMPORAL_SERVER === 'postgres') {
    const log = (line: string) => process.stderr.write(`[test setup] ${line}\n`);
    await ensureTemporalServer({ cacheDir: config.TEMPORAL_CLI_CACHE, log });
    await ensureUiServer({ cacheDir: config.TEMPORAL_CLI_CACHE, log });
  }
  // The tests start their own servers; a developer's settings must not leak into them.
  for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_ADDRESS_EAST', 'TEMPORAL_ADDRESS_WEST', 'DATABASE_URL', 'PORT']) delete process.env[key];
}
