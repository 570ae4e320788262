// The Temporal SDK's own log lines (worker state, workflow and activity logs with their context)
// through the process's pino logger, so a worker writes one JSON format with the same field names
// as every other process: workflowId, region, stage (the activity type is the stage), sourceId, seq.
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

const SDK_LEVEL: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' };

/** Renames the SDK's context fields to the pipeline's; everything else passes as it is. */
export function sdkFields(meta: Record<string, unknown> = {}): Record<string, unknown> {
  const { activityType, sdkComponent, ...rest } = meta;
  return { ...rest, ...(activityType ? { stage: activityType } : {}), ...(sdkComponent ? { component: sdkComponent } : {}) };
}

export function sdkLogger(logger: Logger): DefaultLogger {
  return new DefaultLogger(SDK_LEVEL[logger.level] ?? 'INFO', (entry: LogEntry) => {
    logger[LEVELS[entry.level]](sdkFields(entry.meta as Record<string, unknown>), entry.message);
  });
}
