// The Temporal SDK's runtime of a worker process, apart from the entry point that runs the worker.
import { Runtime } from '@temporalio/worker';
import type { Logger } from '../logger';
import { sdkLogger } from './sdk-logger';

/**
 * The SDK runtime, once per process, before the first connection: its logs through pino and, when
 * a port is given, its metrics (poll and task latencies, slots, activity execution latency per
 * stage...) in Prometheus text on that port.
 */
export function installRuntime(logger: Logger, metricsAddress: string | undefined, tags: Record<string, string>): void {
  const base = { logger: sdkLogger(logger) };
  if (metricsAddress) {
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
      logger.info({ metrics: metricsAddress }, 'SDK metrics exported');
      return;
    } catch (err) {
      // A taken port costs the metrics, not the worker: records keep flowing.
      logger.error({ metrics: metricsAddress, err: (err as Error).message }, 'SDK metrics not exported');
    }
  }
  Runtime.install(base);
}
