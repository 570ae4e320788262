import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { activeRegion, type RegionRow } from '../../db/regions';
import { HealthReply } from '../schemas';

interface Check {
  name: string;
  ok: boolean;
  latencyMs: number;
  reason?: string;
}

async function timed(name: string, fn: () => Promise<string | undefined>): Promise<Check> {
  const started = performance.now();
  try {
    const reason = await fn();
    return { name, ok: !reason, latencyMs: Math.round(performance.now() - started), ...(reason ? { reason } : {}) };
  } catch (err) {
    return { name, ok: false, latencyMs: Math.round(performance.now() - started), reason: (err as Error).message };
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: '200 when the active region can make progress, else 503 with the failing checks',
        response: { 200: HealthReply, 503: HealthReply },
      },
    },
    async (_request, reply) => {
      const { pool, router } = app.deps;
      let active: RegionRow | undefined;
      const checks: Check[] = [];
      const pg = await timed('postgres', async () => {
        active = await activeRegion(pool);
        return undefined;
      });
      checks.push(pg);
      if (active) {
        const row = active;
        checks.push(await timed(`temporal:${row.name}`, async () => (await router.probe(row)).reason));
      }
      const region = active?.name ?? 'unknown';
      const ok = checks.every((c) => c.ok);
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', activeRegion: region, checks });
    },
  );
};
