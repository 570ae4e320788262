// The API process: listens, runs the relay, closes gracefully.
import './tracing'; // first: the pg instrumentation must see pg's first require
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from '../config';
import { createLogger } from '../logger';
import { createPool } from '../db/pool';
import { prepareDatabase } from '../db/prepare';
import { TemporalClients } from '../temporal/clients';
import { buildApp } from './app';
import { WorkflowStarter } from '../control/starter';
import { ThreadStartExecutor } from '../control/start-executor';
import { StartWindow } from '../control/start-window';
import { GateListener } from '../db/gate-listener';
import { WINDOW_STAGE } from '../contracts/gate';
import { RegionRouter } from '../control/region-router';
import { Reconciler } from '../control/reconciler';
import { workerControlForProcess, type WorkerControl } from './worker-control';
import { stopTracing } from '../telemetry/tracing';

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
  const starter = new WorkflowStarter({
    pool,
    temporal,
    logger,
    concurrency: config.START_CONCURRENCY,
    // Its own thread (and Temporal connection): a burst of starts never delays a submit's answer.
    executor: new ThreadStartExecutor(),
    relayIntervalMs: config.RELAY_INTERVAL_MS,
    nudgeAfterSeconds: config.GATE_NUDGE_SECONDS,
    sweeper: config.SWEEPER === 'on',
    startWindow: config.START_WINDOW,
    startWindowBudget: config.START_WINDOW_BUDGET,
    workflowDefaults: {
      activityTimeoutMs: config.ACTIVITY_TIMEOUT_MS,
      retryMaxIntervalMs: config.RETRY_MAX_INTERVAL_MS,
      // Only when set otherwise: the default stays out of every workflow's input.
      ...(config.WORKFLOW_HISTORY_LIMIT !== 2000 ? { historyLimit: config.WORKFLOW_HISTORY_LIMIT } : {}),
    },
  });
  const gate =
    config.START_WINDOW > 0
      ? await GateListener.start({ connectionString: config.databaseUrl, applicationName: 'pipeline-api', stages: [WINDOW_STAGE], logger })
      : undefined;
  const window = gate ? new StartWindow(gate, starter, logger) : undefined;
  const reconciler = new Reconciler({
    pool,
    temporal,
    starter,
    logger,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    stallSeconds: config.RECONCILE_STALL_SECONDS,
    graceSeconds: config.RECONCILE_GRACE_SECONDS,
    maxRepairs: config.RECONCILE_MAX_REPAIRS,
  });
  const router = new RegionRouter({
    pool,
    temporal,
    logger,
    mode: config.FAILOVER,
    intervalMs: config.HEALTH_INTERVAL_MS,
    threshold: config.FAILOVER_THRESHOLD,
    pollerLivenessMs: config.POLLER_LIVENESS_MS,
    startupGraceMs: config.FAILOVER_STARTUP_GRACE_MS,
    recover: () => starter.recoverAll(),
  });
  const app = await buildApp(
    { config, pool, temporal, starter, router, reconciler, workers: workers ?? workerControlForProcess() },
    {
      loggerInstance: logger,
      // Slow or idle clients cannot hold sockets: an idle socket and a whole request are bounded.
      connectionTimeout: config.CONNECTION_TIMEOUT_MS,
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      keepAliveTimeout: 10_000,
    },
  );
  app.addHook('onClose', async () => {
    await router.stop();
    await reconciler.stop();
    window?.stop();
    await starter.stop();
    await gate?.close();
    await temporal.close();
    await pool.end();
  });
  const url = await app.listen({ host: config.HOST, port: config.PORT });
  starter.startRelay();
  router.start();
  reconciler.start();
  return { app, url, close: () => app.close() };
}

if (require.main === module) {
  process.title = 'pipeline-api';
  startServer()
    .then((server) => {
      server.app.log.info({ url: server.url }, 'api listening');
      process.send?.({ type: 'ready', url: server.url });
      let closing = false;
      const shutdown = () => {
        if (closing) return;
        closing = true;
        server
          .close()
          .then(stopTracing)
          .then(
            () => process.exit(0),
            () => process.exit(1),
          );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
      process.on('disconnect', shutdown);
    })
    .catch((err) => {
      process.stderr.write(`api failed to start: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    });
}
