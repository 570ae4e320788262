import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { activeRegion } from '../../db/regions';
import { probeRegion } from '../../temporal/probe';
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
      const { pool, temporal } = app.deps;
      let region = 'unknown';
      const checks: Check[] = [];
      const pg = await timed('postgres', async () => {
        region = (await activeRegion(pool)).name;
        return undefined;
      });
      checks.push(pg);
      if (pg.ok) {
        const rc = temporal.region(region);
        let probe: Awaited<ReturnType<typeof probeRegion>> | undefined;
        checks.push(
          await timed(`temporal:${region}`, async () => {
            probe = await probeRegion(await temporal.client(region), rc.namespace);
            return probe.namespaceOk ? undefined : probe.reason;
          }),
        );
        if (probe?.namespaceOk) {
          checks.push({
            name: `pollers:${region}`,
            ok: probe.missingPollers.length === 0,
            latencyMs: 0,
            ...(probe.missingPollers.length ? { reason: `no live pollers on ${probe.missingPollers.join(', ')}` } : {}),
          });
        }
      }
      const ok = checks.every((c) => c.ok);
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', activeRegion: region, checks });
    },
  );
};
