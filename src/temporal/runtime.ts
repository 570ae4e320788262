// The Temporal SDK's runtime of a worker process, apart from the entry point that runs the worker.
import { Runtime } from '@temporalio/worker';
import type { Logger } from '../logger';
import { sdkLogger } from './sdk-logger';

export const WORKER_START_METRIC = 'pipeline_worker_start_time_seconds';

/**
 * This process's start time next to the SDK's metrics: the SDK's own counters start again at every
 * start, so `changes()` of this gauge is what counts a worker's restarts, whoever restarts it (the
 * supervisor of npm start, Docker's restart policy, an orchestrator).
 */
function markStart(): void {
  Runtime.instance()
    .metricMeter.createGauge(WORKER_START_METRIC, 'float', '', 'when this worker process started, in Unix seconds')
    .set(Date.now() / 1000 - process.uptime());
}

/**
 * The SDK runtime, once per process, before the first connection: its logs through pino and, when
 * a port is given, its metrics (poll and task latencies, slots, activity execution latency per
 * stage...) and its start time in Prometheus text on that port.
 */
export function installRuntime(logger: Logger, metricsAddress: string | undefined, tags: Record<string, string>): void {
  const base = { logger: sdkLogger(logger) };
  if (!metricsAddress) return void Runtime.install(base);
  try {
    Runtime.install({
      ...base,
      telemetryOptions: {
        metrics: {
          prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true },
          globalTags: tags,
        },
      },
    });
  } catch (err) {
    // A taken port costs the metrics, not the worker: records keep flowing.
    logger.error({ metrics: metricsAddress, err: (err as Error).message }, 'SDK metrics not exported');
    return void Runtime.install(base);
  }
  markStart();
  logger.info({ metrics: metricsAddress }, 'SDK metrics exported');
}
