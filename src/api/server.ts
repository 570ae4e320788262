// The API process: listens, runs the control role while it holds its lease (CONTROL=on), closes gracefully.
import './tracing'; // first: the pg instrumentation must see pg's first require
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from '../config';
import { createLogger } from '../logger';
import { createPool } from '../db/pool';
import { prepareDatabase } from '../db/prepare';
import { TemporalClients } from '../temporal/clients';
import { buildApp } from './app';
import { createControlPlane } from '../control/role';
import { workerControlForProcess, type WorkerControl } from './worker-control';
import { exitOnSignals } from '../shutdown';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config = loadConfig(), workers?: WorkerControl): Promise<RunningServer> {
  if (config.AUTH === 'on' && !config.ADMIN_TOKEN) {
    throw new ConfigError(
      'ADMIN_TOKEN is not set: set it, or start with npm start (which generates one), or AUTH=off for local experiments',
    );
  }
  const logger = createLogger('api', {}, config);
  if (config.AUTH === 'off') logger.warn('AUTH=off: every caller is admin; never expose this API');
  const pool = createPool({ connectionString: config.databaseUrl, applicationName: 'pipeline-api', max: config.PG_POOL_MAX, logger });
  await prepareDatabase(config, pool);
  const temporal = new TemporalClients(config.regions);
  // The control plane: the starter every submit uses, and with CONTROL=on the control loops, run
  // here while this process holds the control lease (one process at a time across replicas).
  const control = await createControlPlane({ config, pool, temporal, logger, role: config.CONTROL === 'on' });
  const { starter, router, reconciler } = control;
  const app = await buildApp(
    { config, pool, temporal, starter, router, reconciler, lease: control.lease, workers: workers ?? workerControlForProcess() },
    {
      loggerInstance: logger,
      // Slow or idle clients cannot hold sockets: an idle socket and a whole request are bounded.
      connectionTimeout: config.CONNECTION_TIMEOUT_MS,
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      keepAliveTimeout: 10_000,
    },
  );
  app.addHook('onClose', async () => {
    await control.stop();
    await temporal.close();
    await pool.end();
  });
  const url = await app.listen({ host: config.HOST, port: config.PORT });
  control.start();
  return { app, url, close: () => app.close() };
}

if (require.main === module) {
  process.title = 'pipeline-api';
  startServer()
    .then((server) => {
      server.app.log.info({ url: server.url }, 'api listening');
      process.send?.({ type: 'ready', url: server.url });
      exitOnSignals(() => server.close());
    })
    .catch((err) => {
      process.stderr.write(`api failed to start: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
