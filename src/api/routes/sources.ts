import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getSource, listDeliveries, sourceExists } from '../../db/queries';
import { STAGES, type Stage } from '../../contracts/names';
import { ApiError } from '../errors';
import { DeliveriesQuery, DeliveriesReply, ErrorBody, SourceParams, SourceReply } from '../schemas';

/** A source's progress as GET /v1/sources/:id and GET /v1/stats show it. */
export function sourceView(
  lastSeq: number,
  wm: Partial<Record<Stage, number>>,
  blocked: { seq: number; record_id: string; blocked_stage: string; blocked_reason: string | null } | undefined,
) {
  const watermarks = Object.fromEntries(STAGES.map((s) => [s, wm[s] ?? 0])) as Record<Stage, number>;
  return {
    lastSeq,
    watermarks: { ...watermarks, delivered: wm.outbound ?? 0 },
    blocked: blocked ? { seq: blocked.seq, id: blocked.record_id, stage: blocked.blocked_stage, reason: blocked.blocked_reason } : null,
  };
}

export const sourceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/sources/:sourceId',
    {
      schema: {
        summary: 'A source: last seq, per-stage watermarks, the blocked record if any',
        params: SourceParams,
        response: { 200: SourceReply, 404: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId } = request.params;
      const found = await getSource(app.pool, sourceId);
      if (!found) throw new ApiError(404, 'source_not_found', `no source ${sourceId}`);
      const wm: Partial<Record<Stage, number>> = {};
      for (const w of found.watermarks) wm[w.stage] = w.watermark;
      return {
        sourceId,
        ...sourceView(found.source.last_seq, wm, found.blocked),
        counts: Object.fromEntries(found.counts.map((c) => [c.status, c.n])),
      };
    },
  );

  app.get(
    '/v1/sources/:sourceId/deliveries',
    {
      schema: {
        summary: "The destination's view of a source, in seq order",
        params: SourceParams,
        querystring: DeliveriesQuery,
        response: { 200: DeliveriesReply, 404: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId } = request.params;
      const { after, limit } = request.query;
      const rows = await listDeliveries(app.pool, sourceId, after, limit);
      if (rows.length === 0 && !(await sourceExists(app.pool, sourceId))) {
        throw new ApiError(404, 'source_not_found', `no source ${sourceId}`);
      }
      return {
        sourceId,
        deliveries: rows.map((r) => ({
          seq: r.seq,
          id: r.record_id,
          region: r.region,
          epoch: r.epoch,
          deliveredAt: r.delivered_at.toISOString(),
          output: r.output,
        })),
        next: rows.length === limit ? rows[rows.length - 1].seq : null,
      };
    },
  );
};
