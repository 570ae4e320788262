// GET /v1/stats: the operator's one-page view: Temporal task queues of both regions (pollers,
// backlog), per stage what is in flight and how long the oldest has waited, per source progress.
// It reads the sources with open work and at most `?sources=` others: its cost follows what is open,
// not the history or the number of sources.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listRegions } from '../../db/regions';
import { firstBlocked } from '../../db/queries';
import { listedSources, openWatermarks, recentTotals, relayBacklog, sourceCount, stageLoad } from '../../db/stats';
import { StatsQuery, StatsReply } from '../schemas';
import { sourceView } from './sources';
import { controlView } from '../control-view';
import { reconcilerView } from '../../control/reconciler';
import { webhookView } from '../../db/webhooks';

const WINDOW_SECONDS = 60;

export const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/stats',
    {
      schema: {
        summary: 'Pollers and backlog per region and task queue; in flight per stage; progress per source',
        querystring: StatsQuery,
        response: { 200: StatsReply },
      },
    },
    async (request) => {
      const { pool, regionRouter } = app;
      const rows = await listRegions(pool);
      const active = rows.find((r) => r.active);
      const [regions, open, sourcesTotal, totals, relay] = await Promise.all([
        Promise.all(
          rows.map(async (row) => {
            const inspection = await regionRouter.inspect(row);
            return {
              name: row.name,
              namespace: inspection.namespaceName,
              active: row.active,
              reachable: inspection.namespace.ok,
              ...(inspection.namespace.reason ? { reason: inspection.namespace.reason } : {}),
              queues: inspection.queues.map((q) => ({
                name: q.name,
                type: q.type,
                pollers: q.pollers,
                backlogCount: q.backlogCount,
                backlogAgeSeconds: q.backlogAgeSeconds,
              })),
            };
          }),
        ),
        openWatermarks(pool),
        sourceCount(pool),
        recentTotals(pool, WINDOW_SECONDS),
        relayBacklog(pool),
      ]);
      const [control, reconciler, webhooks] = await Promise.all([
        controlView(pool, app.controlLease),
        reconcilerView(pool),
        webhookView(pool),
      ]);
      const listed = await listedSources(pool, open, request.query.sources);
      const blocked = await firstBlocked(
        pool,
        listed.map((s) => s.sourceId),
      );
      return {
        at: new Date().toISOString(),
        activeRegion: active?.name ?? 'none',
        epoch: active?.epoch ?? 0,
        regions,
        stages: await stageLoad(pool, open),
        relayBacklog: relay,
        totals: { windowSeconds: WINDOW_SECONDS, ...totals },
        control,
        reconciler: {
          passes: reconciler.passes,
          lastPassAt: reconciler.last?.startedAt ?? null,
          lastPassMs: reconciler.last?.durationMs ?? null,
          repairedTotal: reconciler.repairedTotal,
          stalledSources: reconciler.last?.stalled.length ?? 0,
        },
        webhooks,
        sourcesTotal,
        sources: listed.map((s) => ({ sourceId: s.sourceId, ...sourceView(s.lastSeq, s.watermarks, blocked.get(s.sourceId)) })),
      };
    },
  );
};
