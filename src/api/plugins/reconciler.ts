// The reconciler as `app.reconciler`: its last pass, and a pass on demand.
import fp from 'fastify-plugin';
import type { Reconciler } from '../../control/reconciler';

declare module 'fastify' {
  interface FastifyInstance {
    reconciler: Reconciler;
  }
}

// Its loop is started and stopped by server.ts, beside the other loops.
export const reconcilerPlugin = fp<{ reconciler: Reconciler }>(
  async (app, opts) => {
    app.decorate('reconciler', opts.reconciler);
  },
  { name: 'reconciler' },
);
