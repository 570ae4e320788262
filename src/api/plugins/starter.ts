// The workflow starter as `app.starter`: the submit route starts the workflows of what it accepted.
import fp from 'fastify-plugin';
import type { WorkflowStarter } from '../../control/starter';

declare module 'fastify' {
  interface FastifyInstance {
    starter: WorkflowStarter;
  }
}

// Its relay loop is started and stopped by server.ts, beside the other loops.
export const starterPlugin = fp<{ starter: WorkflowStarter }>(
  async (app, opts) => {
    app.decorate('starter', opts.starter);
  },
  { name: 'starter' },
);
