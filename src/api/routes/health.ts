// Liveness (/healthz: this process answers) and readiness (/readyz: it can accept records, that is
// Postgres answers; the active region's namespace and its pollers are reported beside, as degraded
// when they fail). A load balancer keeps a replica in while Temporal is down: submits are then
// still checkpointed, and their workflows start when Temporal is back (the relay).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { activeRegion, type RegionRow } from '../../db/regions';
import { LiveReply, ReadyReply, type ReadyCheck } from '../schemas';

const startedAt = Date.now();

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: 200 while this API process answers (it checks nothing else; see /readyz)',
        response: { 200: LiveReply },
      },
    },
    async () => ({ status: 'ok' as const, pid: process.pid, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary:
          "Readiness: 200 while this replica can accept records (Postgres answers), 'degraded' in the body when the active region's Temporal or its pollers fail; 503 when Postgres does not answer",
        response: { 200: ReadyReply, 503: ReadyReply },
      },
    },
    async (_request, reply) => {
      const { pool, regionRouter } = app;
      const checks: ReadyCheck[] = [];
      let active: RegionRow | undefined;
      const started = performance.now();
      try {
        active = await activeRegion(pool);
        checks.push({ name: 'postgres', ok: true, latencyMs: Math.round(performance.now() - started) });
      } catch (err) {
        checks.push({ name: 'postgres', ok: false, latencyMs: Math.round(performance.now() - started), reason: (err as Error).message });
      }
      if (active) {
        const inspection = await regionRouter.inspect(active);
        checks.push({ name: `temporal:${active.name}`, ...inspection.namespace });
        // A region that did not answer has no queue results; its namespace check says why.
        for (const q of inspection.queues) {
          checks.push({ name: `pollers:${q.name}`, ok: q.ok, latencyMs: q.latencyMs, ...(q.reason ? { reason: q.reason } : {}) });
        }
      }
      const accepting = checks[0].ok;
      const status = !accepting ? 'unavailable' : checks.every((c) => c.ok) ? 'ready' : 'degraded';
      return reply.status(accepting ? 200 : 503).send({ status, activeRegion: active?.name ?? 'unknown', checks });
    },
  );
};
