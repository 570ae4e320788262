import pino, { type Logger } from 'pino';

/** JSON logs with the same base fields from every process; pretty when attached to a terminal. */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  const pretty = process.stdout.isTTY && process.env.LOG_FORMAT !== 'json';
  return pino({
    name,
    level,
    base: { pid: process.pid, ...bindings },
    transport: pretty ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } } : undefined,
  });
}

export type { Logger };
