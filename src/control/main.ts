// The control role without HTTP: `node dist/src/control/main.js`. Competes for the control lease
// beside the API replicas (or beside replicas run with CONTROL=off) and, while it holds it, runs the
// relay and start window, the sweeper, the reconciler and the region router.
import './tracing'; // first: the pg instrumentation must see pg's first require
import { exitOnSignals } from '../shutdown';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createPool } from '../db/pool';
import { prepareDatabase } from '../db/prepare';
import { TemporalClients } from '../temporal/clients';
import { createControlPlane } from './role';

async function main(): Promise<() => Promise<void>> {
  const config = loadConfig();
  const logger = createLogger('control', {}, config);
  const pool = createPool({ connectionString: config.databaseUrl, applicationName: 'pipeline-control', max: config.PG_POOL_MAX, logger });
  await prepareDatabase(config, pool);
  const temporal = new TemporalClients(config.regions);
  const control = await createControlPlane({ config, pool, temporal, logger, role: true, applicationName: 'pipeline-control' });
  control.start();
  logger.info({ holder: control.lease?.holder }, 'control role running; it acts while it holds the lease');
  return async () => {
    await control.stop();
    await temporal.close();
    await pool.end();
  };
}

if (require.main === module) {
  process.title = 'pipeline-control';
  main()
    .then((stop) => {
      process.send?.({ type: 'ready' });
      exitOnSignals(stop);
    })
    .catch((err) => {
      process.stderr.write(`control failed to start: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
