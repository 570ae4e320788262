// One worker process: a region's workflow worker, or one stage's activity worker.
//   node dist/src/workers/worker.js <region> <workflows|inbound|preprocess|core|postprocess|outbound>
import { parseAllowedHosts } from '../destinations/validate';
import './tracing'; // first: the pg instrumentation must see pg's first require
import path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { gateNotifier } from '../temporal/notifier';
import { loadConfig, regionConfig } from '../config';
import { createLogger } from '../logger';
import { installRuntime } from '../temporal/runtime';
import { tracing, stopTracing } from '../telemetry/tracing';
import { tracingActivityInterceptors, tracingClientInterceptors, tracingWorkflowSinks } from '../telemetry/temporal';
import { createPool, type Pool } from '../db/pool';
import { GateListener } from '../db/gate-listener';
import { createStageActivities } from '../activities/stage';
import { isRegion, isStage, taskQueueFor, WORKER_ROLES, workerProcessTitle, type WorkerRole } from '../contracts/names';

export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle.js');
/** The same workflow code with Temporal's OpenTelemetry workflow interceptors: used only when tracing is on. */
export const TRACED_WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle-traced.js');

/** A stage worker's activity slots (the SDK's default); at most half of them wait at the gate. */
const ACTIVITY_SLOTS = 100;
/**
 * A stage worker listens for the gate's notices from its first activity on, and stops a minute
 * after its last: a standby region's workers hold no connection and parse none of the active one's.
 */
const GATE_LISTEN_IDLE_MS = 60_000;

async function main(): Promise<void> {
  const [region, role] = process.argv.slice(2);
  if (!region || !isRegion(region) || !WORKER_ROLES.includes(role as WorkerRole)) {
    throw new Error(`usage: worker.js <east|west> <${WORKER_ROLES.join('|')}>`);
  }
  process.title = workerProcessTitle(region, role as WorkerRole);
  const config = loadConfig();
  const rc = regionConfig(config, region);
  // `role`, not `stage`: activity log lines carry their own `stage` (see sdk-logger.ts).
  const logger = createLogger('worker', { region, role }, config);
  installRuntime(logger, config.METRICS_PORT > 0 ? `${config.METRICS_HOST}:${config.METRICS_PORT}` : undefined, { region, role });
  let pool: Pool | undefined;
  let webhookPool: Pool | undefined;
  let gate: GateListener | undefined;
  const connection = await NativeConnection.connect({ address: rc.address, ...rc.connect });
  try {
    const common = {
      connection,
      namespace: rc.namespace,
      taskQueue: taskQueueFor(role as WorkerRole),
      identity: `${process.title}@${process.pid}`,
    };
    let worker: Worker;
    if (role === 'workflows') {
      worker = tracing()
        ? await Worker.create({ ...common, workflowBundle: { codePath: TRACED_WORKFLOW_BUNDLE_PATH }, sinks: tracingWorkflowSinks() })
        : await Worker.create({ ...common, workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } });
    } else if (isStage(role)) {
      pool = createPool({ connectionString: config.databaseUrl, applicationName: process.title, max: config.PG_POOL_MAX, logger });
      // The outbound stage's webhook calls, on connections of their own (opened only when used).
      webhookPool =
        role === 'outbound'
          ? createPool({ connectionString: config.databaseUrl, applicationName: process.title, max: config.WEBHOOK_CONNECTIONS, logger })
          : undefined;
      // The gate's signals go over the worker's own (native) connection: no second one, no grpc-js.
      const client = new Client({ connection, namespace: rc.namespace, interceptors: tracingClientInterceptors() });
      const notify = gateNotifier(client, (err) =>
        logger.warn({ err: err.message }, 'gate signal failed; the activity is retried to send it again'),
      );
      gate =
        config.GATE_WAIT_MS > 0
          ? await GateListener.start({
              connectionString: config.databaseUrl,
              applicationName: process.title,
              stages: [role],
              logger,
              idleMs: GATE_LISTEN_IDLE_MS,
            })
          : undefined;
      const acts = createStageActivities({
        pool,
        region,
        delayMs: config.STAGE_DELAY_MS,
        txDelayMs: config.STAGE_TX_DELAY_MS,
        webhooks: {
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          maxBackoffMs: config.WEBHOOK_MAX_BACKOFF_MS,
          allowedHosts: parseAllowedHosts(config.WEBHOOK_ALLOWED_HOSTS),
          pool: webhookPool,
        },
        notify,
        gate,
        gateWaitMs: config.GATE_WAIT_MS,
        gateWaitAhead: config.GATE_WAIT_AHEAD,
        gateWaitSlots: ACTIVITY_SLOTS / 2,
      });
      // Only this stage's activity: one task queue, like one container.
      const activity = tracingActivityInterceptors();
      worker = await Worker.create({
        ...common,
        activities: { [role]: acts[role] },
        maxConcurrentActivityTaskExecutions: ACTIVITY_SLOTS,
        ...(activity ? { interceptors: { activity } } : {}),
      });
    } else {
      throw new Error(`unknown role ${role}`);
    }
    logger.info({ namespace: rc.namespace, address: rc.address, taskQueue: common.taskQueue }, 'worker polling');
    // The supervisor that forked this process is gone (killed outright): stop as on SIGTERM (the
    // SDK's own handler), or the worker would go on polling with no one to stop it.
    process.once('disconnect', () => {
      logger.warn('the supervisor is gone; shutting down');
      if (worker.getState() === 'RUNNING') worker.shutdown();
    });
    process.send?.({ type: 'ready' });
    await worker.run();
  } finally {
    await connection.close();
    await gate?.close();
    await pool?.end();
    await webhookPool?.end();
    await stopTracing();
  }
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
