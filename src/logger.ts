import pino, { type Logger } from 'pino';
import { loadConfig, type Env } from './config';

/**
 * JSON logs from every process with the same field names (sourceId, seq, workflowId, region,
 * stage); pretty when attached to a terminal (LOG_FORMAT=auto), or as LOG_FORMAT says.
 */
export function createLogger(
  name: string,
  bindings: Record<string, unknown> = {},
  // A process passes the configuration it already loaded (and validated), so it is read once.
  settings: Pick<Env, 'LOG_LEVEL' | 'LOG_FORMAT'> = loadConfig(),
): Logger {
  const { LOG_LEVEL: level, LOG_FORMAT: format } = settings;
  const pretty = format === 'pretty' || (format === 'auto' && Boolean(process.stdout.isTTY));
  return pino({
    name,
    level,
    base: { pid: process.pid, ...bindings },
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } : undefined,
  });
}

export type { Logger };
