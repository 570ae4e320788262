// The API app over a test database, Temporal deliberately unreachable (accepting does not need it).
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app';
import { WorkflowStarter } from '../../src/control/starter';
import type { StartExecutor } from '../../src/control/start-executor';
import { RegionRouter } from '../../src/control/region-router';
import { Reconciler } from '../../src/control/reconciler';
import { NotSupervised } from '../../src/api/worker-control';
import { loadConfig } from '../../src/config';
import pino from 'pino';
import { TemporalClients } from '../../src/temporal/clients';
import type { TestDb } from './db';

/** A Temporal that cannot be reached, without the connect timeout's wait: every start fails at once. */
export const UNREACHABLE: StartExecutor = {
  start: () => Promise.reject(new Error('Temporal unreachable (test)')),
  close: async () => undefined,
};

export interface TestApp {
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * `recover` stands in for the recovery a failover starts (counted by the tests that fail over).
 * `executor`: where the starter issues its starts (default: the unreachable Temporal, each batch
 * failing after the connect timeout; UNREACHABLE fails at once).
 * `starterTemporalAddress`: where the starter alone connects, when the rest sees a real server
 * (the default, 127.0.0.1:1, answers nothing: records stay accepted and a test drives the stages).
 */
export async function buildTestApp(
  db: TestDb,
  env: Record<string, string> = {},
  recover: () => Promise<unknown> = async () => undefined,
  opts: { starterTemporalAddress?: string; executor?: StartExecutor } = {},
): Promise<TestApp> {
  const config = loadConfig({ DATABASE_URL: db.url, TEMPORAL_ADDRESS: '127.0.0.1:1', LOG_LEVEL: 'silent', ...env });
  const logger = pino({ level: 'silent' });
  const temporal = new TemporalClients(config.regions);
  const starterTemporal = opts.starterTemporalAddress
    ? new TemporalClients(loadConfig({ TEMPORAL_ADDRESS: opts.starterTemporalAddress }).regions)
    : temporal;
  const starter = new WorkflowStarter({
    pool: db.pool,
    temporal: starterTemporal,
    logger,
    concurrency: 1,
    executor: opts.executor,
    relayIntervalMs: 60_000,
    nudgeAfterSeconds: 30,
    workflowDefaults: {},
  });
  const router = new RegionRouter({
    pool: db.pool,
    temporal,
    logger,
    mode: 'manual',
    intervalMs: 60_000,
    threshold: 3,
    pollerLivenessMs: 30_000,
    startupGraceMs: 30_000,
    deadlineMs: config.FAILOVER_DEADLINE_MS,
    recover,
  });
  const reconciler = new Reconciler({
    pool: db.pool,
    temporal,
    starter,
    logger,
    intervalMs: 60_000,
    stallSeconds: 60,
    graceSeconds: 10,
    maxRepairs: 100,
  });
  const app = await buildApp(
    { config, pool: db.pool, temporal, starter, router, reconciler, workers: new NotSupervised() },
    { logger: false },
  );
  return {
    app,
    async close() {
      await app.close();
      await temporal.close();
      if (starterTemporal !== temporal) await starterTemporal.close();
    },
  };
}
