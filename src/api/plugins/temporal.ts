// The Temporal clients of both regions as `app.temporal` (routes signal workflows through them).
import fp from 'fastify-plugin';
import type { TemporalClients } from '../../temporal/clients';

declare module 'fastify' {
  interface FastifyInstance {
    temporal: TemporalClients;
  }
}

// server.ts opens and closes them (tests their own): decorated here, not owned.
export const temporalPlugin = fp<{ temporal: TemporalClients }>(
  async (app, opts) => {
    app.decorate('temporal', opts.temporal);
  },
  { name: 'temporal' },
);
