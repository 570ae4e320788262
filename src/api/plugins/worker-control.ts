// The supervisor's worker and dev server control as `app.workerControl` (NotSupervised when the
// API runs on its own).
import fp from 'fastify-plugin';
import type { WorkerControl } from '../worker-control';

declare module 'fastify' {
  interface FastifyInstance {
    workerControl: WorkerControl;
  }
}

export const workerControlPlugin = fp<{ workerControl: WorkerControl }>(
  async (app, opts) => {
    app.decorate('workerControl', opts.workerControl);
  },
  { name: 'worker-control' },
);
