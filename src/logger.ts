import pino, { type Logger } from 'pino';
import { loadConfig, type Env } from './config';
import { tracing } from './telemetry/tracing';
import { activeTraceIds } from './telemetry/spans';

const PRETTY = 'pino-pretty';

/**
 * Whether to pretty-print: asked for (LOG_FORMAT=pretty, or auto on a terminal), and a developer's
 * machine. pino-pretty is a dev dependency, absent from the production image (npm ci --omit=dev):
 * with NODE_ENV=production, or without the package, a process logs JSON rather than fail to start.
 */
export function wantsPretty(
  format: Env['LOG_FORMAT'],
  isTTY: boolean,
  env: NodeJS.ProcessEnv = process.env,
  resolve: (id: string) => string = require.resolve,
): boolean {
  if (format === 'json' || (format === 'auto' && !isTTY)) return false;
  if (env.NODE_ENV === 'production') return false;
  try {
    resolve(PRETTY);
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON logs from every process with the same field names (sourceId, seq, workflowId, region,
 * stage, and with tracing on trace_id and span_id of the span the line is logged in); pretty when attached to a terminal (LOG_FORMAT=auto), or as LOG_FORMAT says.
 */
export function createLogger(
  name: string,
  bindings: Record<string, unknown> = {},
  // A process passes the configuration it already loaded (and validated), so it is read once.
  settings: Pick<Env, 'LOG_LEVEL' | 'LOG_FORMAT'> = loadConfig(),
): Logger {
  const { LOG_LEVEL: level, LOG_FORMAT: format } = settings;
  const pretty = wantsPretty(format, Boolean(process.stdout.isTTY));
  return pino({
    name,
    level,
    base: { pid: process.pid, ...bindings },
    // Tracing on: the active span's ids on each line (the names Temporal's interceptors use).
    mixin: tracing() ? activeTraceIds : undefined,
    transport: pretty ? { target: PRETTY, options: { colorize: true, translateTime: 'HH:MM:ss.l' } } : undefined,
  });
}

export type { Logger };
