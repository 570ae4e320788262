import pg from 'pg';
import type { Logger } from '../logger';

// bigint (int8) as a JS number: seqs and ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;

/** A database URL without its password, for banners and messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  connectionString: string;
  applicationName: string;
  max?: number;
  logger?: Logger;
}

/** A pool named per process (visible in pg_stat_activity) that survives dropped connections. */
export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    application_name: opts.applicationName,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's connection dying (server restart, pg_terminate_backend) must not crash the process.
  pool.on('error', (err) => opts.logger?.warn({ err: err.message }, 'postgres idle client error'));
  return pool;
}

/**
 * Checks a client out of the pool. pg-pool takes its own 'error' listener off a client while it is
 * checked out, so a connection that dies between two queries (pg_terminate_backend, a restart)
 * would raise an unhandled 'error' and crash the process: this listener takes it instead. The next
 * query then rejects (a plain, retryable error), and `done` destroys the dead client.
 */
async function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; done: (discard?: Error) => void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  const done = (discard?: Error) => {
    client.removeListener('error', onError);
    client.release(broken ?? discard ?? false);
  };
  return { client, done };
}

/** Runs fn with a client of the pool (for session-level work such as advisory locks). */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, done } = await checkout(pool);
  try {
    return await fn(client);
  } finally {
    done();
  }
}

/** Runs fn in a transaction; rolls back on any error (a client that cannot roll back is destroyed). */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, done } = await checkout(pool);
  let discard: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      discard = rollbackErr;
    });
    throw err;
  } finally {
    done(discard);
  }
}
