// The reconciler as `app.reconciler` (a pass on demand in the role's holder) and this process's
// control lease as `app.controlLease` (undefined with CONTROL=off): who holds the role, for the views.
import fp from 'fastify-plugin';
import type { Reconciler } from '../../control/reconciler';
import type { ControlLease } from '../../control/lease';

declare module 'fastify' {
  interface FastifyInstance {
    reconciler: Reconciler;
    controlLease: ControlLease | undefined;
  }
}

// Their loops are started and stopped by the control plane (src/control/role.ts).
export const reconcilerPlugin = fp<{ reconciler: Reconciler; lease: ControlLease | undefined }>(
  async (app, opts) => {
    app.decorate('reconciler', opts.reconciler);
    app.decorate('controlLease', opts.lease);
  },
  { name: 'reconciler' },
);
