// The control plane of one process: the workflow starter (every replica's submits use it), the
// region router and the reconciler (every replica serves their views and operators' switches), and,
// with the role on, the control loops and the lease that lets one process at a time run them:
// the relay and its sweeper, the start window, the reconciler's passes, the router's health rounds.
import os from 'node:os';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import { GateListener } from '../db/gate-listener';
import { WINDOW_STAGE } from '../contracts/gate';
import type { Logger } from '../logger';
import type { TemporalClients } from '../temporal/clients';
import { ControlLease, NO_LEASE, type LeaseView } from './lease';
import { Reconciler } from './reconciler';
import { RegionRouter } from './region-router';
import { ThreadStartExecutor, type StartExecutor } from './start-executor';
import { StartWindow } from './start-window';
import { WorkflowStarter } from './starter';
import { Retention } from './retention';

export interface ControlPlaneOptions {
  config: Config;
  pool: Pool;
  temporal: TemporalClients;
  logger: Logger;
  /** Run the control role (compete for the lease). Off: this process only serves HTTP. */
  role: boolean;
  /** Where the starts are issued (default: a thread of their own, with its own Temporal connection). */
  executor?: (lease: LeaseView) => StartExecutor;
  /** How operators see this process in the lease (default: host:pid). */
  holder?: string;
  /** Application name of the start window's LISTEN connection. */
  applicationName?: string;
}

export interface ControlPlane {
  starter: WorkflowStarter;
  router: RegionRouter;
  reconciler: Reconciler;
  /** This process's lease; undefined with the role off. */
  lease: ControlLease | undefined;
  /** Starts the loops (and the lease); they act while the lease is held. */
  start(): void;
  /** Stops the loops and gives the lease up. */
  stop(): Promise<void>;
}

export function controlHolderName(): string {
  return `${os.hostname()}:${process.pid}`;
}

export async function createControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const { config, pool, temporal, logger } = opts;
  const lease = opts.role
    ? new ControlLease({
        pool,
        holder: opts.holder ?? controlHolderName(),
        ttlMs: config.CONTROL_LEASE_TTL_MS,
        renewMs: config.CONTROL_LEASE_RENEW_MS,
        logger,
      })
    : undefined;
  const view: LeaseView = lease ?? NO_LEASE;
  const starter = new WorkflowStarter({
    pool,
    temporal,
    logger,
    lease: view,
    concurrency: config.START_CONCURRENCY,
    // Its own thread (and Temporal connection): a burst of starts never delays a submit's answer.
    executor: opts.executor ? opts.executor(view) : new ThreadStartExecutor(undefined, view.deadline),
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
  const reconciler = new Reconciler({
    pool,
    temporal,
    starter,
    logger,
    lease: view,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    stallSeconds: config.RECONCILE_STALL_SECONDS,
    graceSeconds: config.RECONCILE_GRACE_SECONDS,
    maxRepairs: config.RECONCILE_MAX_REPAIRS,
  });
  const router = new RegionRouter({
    pool,
    temporal,
    logger,
    lease: view,
    mode: config.FAILOVER,
    intervalMs: config.HEALTH_INTERVAL_MS,
    threshold: config.FAILOVER_THRESHOLD,
    pollerLivenessMs: config.POLLER_LIVENESS_MS,
    startupGraceMs: config.FAILOVER_STARTUP_GRACE_MS,
    cooldownMs: config.FAILOVER_COOLDOWN_MS,
    deadlineMs: config.FAILOVER_DEADLINE_MS,
    recover: () => starter.recoverAll(),
  });
  // Retention only when RETENTION is set (off by default).
  const retention =
    config.retentionMs === null
      ? undefined
      : new Retention({
          pool,
          logger,
          lease: view,
          retentionMs: config.retentionMs,
          intervalMs: config.RETENTION_INTERVAL_MS,
          batch: config.RETENTION_BATCH,
        });
  // The start window listens only in a process that may hold the role.
  const gate =
    lease && config.START_WINDOW > 0
      ? await GateListener.start({
          connectionString: config.databaseUrl,
          applicationName: opts.applicationName ?? 'pipeline-api',
          stages: [WINDOW_STAGE],
          logger,
        })
      : undefined;
  const window = gate ? new StartWindow(gate, starter, logger) : undefined;

  if (lease) {
    lease.on('acquired', () => {
      router.takeOver();
      // Counts go on from the last holder's; then whatever waits (a failover nobody re-drove) starts.
      void reconciler
        .load()
        .catch((err) => logger.warn({ err: (err as Error).message }, 'reconciler state not read'))
        .then(() => starter.recoverAll())
        .catch((err) => logger.warn({ err: (err as Error).message }, 'recovery pass failed'));
    });
    // Operators' reconcile requests through any replica reach the holder through the lease row.
    lease.on('renewed', (requests: number) => {
      reconciler.request(requests)?.catch((err) => logger.warn({ err: (err as Error).message }, 'requested reconcile pass failed'));
    });
  }

  return {
    starter,
    router,
    reconciler,
    lease,
    start() {
      if (!lease) return;
      lease.start();
      starter.startRelay();
      router.start();
      reconciler.start();
      retention?.start();
    },
    async stop() {
      await router.stop();
      await reconciler.stop();
      await retention?.stop();
      window?.stop();
      await starter.stop();
      await gate?.close();
      // Last: another replica takes over at once, and nothing here acts any more.
      await lease?.stop();
    },
  };
}
