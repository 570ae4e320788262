// The process's Postgres pools: `app.pool` for routes, and `app.authPool`, two connections of its
// own for credential checks: under overload the submit path holds the main pool, and a key lookup
// queued behind it would make even a 503 or 429 answer slow.
import fp from 'fastify-plugin';
import { createPool, type Pool } from '../../db/pool';
import type { Logger } from '../../logger';

declare module 'fastify' {
  interface FastifyInstance {
    pool: Pool;
    authPool: Pool;
  }
}

export interface DbPluginOptions {
  pool: Pool;
  /** Where the credential pool connects; without it (tests of other things) auth shares `pool`. */
  databaseUrl?: string;
}

// The caller opened `pool` and ends it (server.ts on close; a test with its database); the
// credential pool is this plugin's own, ended with the app.
export const dbPlugin = fp<DbPluginOptions>(
  async (app, opts) => {
    app.decorate('pool', opts.pool);
    const authPool = opts.databaseUrl
      ? createPool({
          connectionString: opts.databaseUrl,
          applicationName: 'pipeline-api-auth',
          max: 2,
          logger: app.log as unknown as Logger,
        })
      : opts.pool;
    app.decorate('authPool', authPool);
    if (authPool !== opts.pool) app.addHook('onClose', async () => authPool.end());
  },
  { name: 'db' },
);
