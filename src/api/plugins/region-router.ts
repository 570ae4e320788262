// The region router (the failover "DNS") as `app.regionRouter`: region health, readiness, failover.
import fp from 'fastify-plugin';
import type { RegionRouter } from '../../control/region-router';

declare module 'fastify' {
  interface FastifyInstance {
    regionRouter: RegionRouter;
  }
}

// Its health loop is started and stopped by server.ts, beside the other loops.
export const regionRouterPlugin = fp<{ regionRouter: RegionRouter }>(
  async (app, opts) => {
    app.decorate('regionRouter', opts.regionRouter);
  },
  { name: 'region-router' },
);
