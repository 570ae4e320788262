// The process's Postgres pool as `app.pool`: routes and the auth check share it.
import fp from 'fastify-plugin';
import type { Pool } from '../../db/pool';

declare module 'fastify' {
  interface FastifyInstance {
    pool: Pool;
  }
}

// The caller opened the pool and ends it (server.ts on close; a test with its database), so it is
// not ended here.
export const dbPlugin = fp<{ pool: Pool }>(
  async (app, opts) => {
    app.decorate('pool', opts.pool);
  },
  { name: 'db' },
);
