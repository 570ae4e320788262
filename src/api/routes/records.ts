import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { WorkflowNotFoundError } from '@temporalio/client';
import { checkpointRecords } from '../../db/checkpoint';
import { getRecord } from '../../db/queries';
import { retryRecord, skipRecord } from '../../db/operator';
import { activeRegion } from '../../db/regions';
import { attemptView } from '../../db/webhooks';
import { canonicalJson, contentHash } from '../../stages/work';
import { recordWorkflowId, STAGES, type Stage } from '../../contracts/names';
import { gateSignal, retrySignal, skipSignal } from '../../contracts/record.messages';
import { MAX_PAYLOAD_BYTES } from '../../contracts/limits';
import { submitTraces, traceIdOf } from '../../telemetry/spans';
import { ApiError } from '../errors';
import { InflightGate } from '../limits';
import { ErrorBody, RecordParams, RecordReply, SourceParams, SubmitBody, SubmitReply } from '../schemas';

const RETRY_SIGNAL_TIMEOUT_MS = 5_000;

export const recordRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Bounded submits in flight: overload is answered 503 at once, not queued on the pool.
  const submits = new InflightGate(app.config.SUBMIT_MAX_INFLIGHT);
  app.post(
    '/v1/sources/:sourceId/records',
    {
      schema: {
        summary: 'Submit records (checkpointed in Postgres before 202)',
        params: SourceParams,
        body: SubmitBody,
        response: { 202: SubmitReply, 400: ErrorBody, 409: ErrorBody, 413: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
      // After auth and the rate limit, before the body is read; run() below counts exactly, this
      // only saves parsing when full.
      preParsing: async () => submits.check(),
    },
    async (request, reply) =>
      submits.run(async () => {
        const { sourceId } = request.params;
        const items = request.body.records.map((r, index) => {
          const text = canonicalJson(r.payload);
          const bytes = Buffer.byteLength(text);
          if (bytes > MAX_PAYLOAD_BYTES) {
            throw new ApiError(413, 'payload_too_large', `records[${index}].payload is ${bytes} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
          }
          return { id: r.id, payload: r.payload, hash: contentHash(text) };
        });
        const result = await checkpointRecords(app.pool, sourceId, items, submitTraces(sourceId, items.length));
        if (!result.ok) {
          throw new ApiError(409, 'id_conflict', `ids already accepted with another payload: ${result.conflicts.slice(0, 10).join(', ')}`, {
            ids: result.conflicts,
          });
        }
        if (result.newSeqs.length) {
          const seqs = result.newSeqs;
          request.log.info(
            {
              sourceId,
              seq: seqs[0],
              lastSeq: seqs[seqs.length - 1],
              accepted: seqs.length,
              duplicates: result.records.length - seqs.length,
            },
            'records accepted',
          );
        }
        // Committed: start the workflows without holding the answer; the relay covers failures.
        const known = result.context && {
          ...result.context,
          identities: new Map(
            result.fresh.map((r) => [r.seq, { recordId: r.recordId, payloadHash: r.payloadHash, traceparent: r.traceparent }]),
          ),
        };
        app.starter
          .startRecords(sourceId, result.newSeqs, 'submit', known ?? undefined)
          .catch((err) => request.log.warn({ sourceId, err: (err as Error).message }, 'workflow start deferred to the relay'));
        return reply.status(202).send({ records: result.records });
      }),
  );

  app.get(
    '/v1/sources/:sourceId/records/:seq',
    {
      schema: {
        summary: 'One record: status, stages passed, delivery',
        params: RecordParams,
        response: { 200: RecordReply, 404: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId, seq } = request.params;
      const row = await getRecord(app.pool, sourceId, seq);
      if (!row) throw new ApiError(404, 'record_not_found', `no record ${seq} in source ${sourceId}`);
      const stages: RecordReply['stages'] = {};
      let stage: Stage | null = null;
      for (const s of STAGES) {
        const st = row[s];
        if (st) stages[s] = { at: st.at, region: st.region, epoch: st.epoch };
        else stage ??= s;
      }
      const status = row.status;
      return {
        sourceId,
        seq,
        id: row.record_id,
        status,
        stage: status === 'delivered' || status === 'skipped' ? null : stage,
        region: row.region,
        epoch: row.epoch,
        workflowId: recordWorkflowId(sourceId, seq),
        acceptedAt: row.accepted_at.toISOString(),
        stages,
        deliveredAt: row.delivered_at?.toISOString() ?? null,
        blocked: row.blocked_stage ? { stage: row.blocked_stage, reason: row.blocked_reason } : null,
        traceId: traceIdOf(row.traceparent),
        webhook: row.webhook && attemptView(row.webhook),
      };
    },
  );

  const OperatorReply = Type.Object({ sourceId: Type.String(), seq: Type.Integer(), status: Type.String(), stage: Type.String() });
  const OperatorBody = Type.Union([
    Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
    Type.Null(),
  ]);

  app.post(
    '/v1/sources/:sourceId/records/:seq/skip',
    {
      schema: {
        summary: 'Skip a blocked record: dead-letter it and let later records go on',
        params: RecordParams,
        body: Type.Optional(OperatorBody),
        response: { 200: OperatorReply, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId, seq } = request.params;
      const reason = request.body?.reason ?? 'skipped by operator';
      const result = await skipRecord(app.pool, sourceId, seq, reason);
      if (!result.ok) throw operatorError(result.reason, sourceId, seq, result.status);
      const region = await activeRegion(app.pool);
      const client = await app.temporal.client(region.name);
      const notify = async (workflowId: string, send: (h: ReturnType<typeof client.workflow.getHandle>) => Promise<void>) => {
        try {
          await send(client.workflow.getHandle(workflowId));
        } catch (err) {
          request.log.info({ workflowId, err: (err as Error).message }, 'no workflow to signal');
        }
      };
      await notify(recordWorkflowId(sourceId, seq), (h) => h.signal(skipSignal));
      // Wake whoever is now first in line at each stage that moved past the skipped record.
      const targets = new Set(STAGES.map((s) => (result.watermarks[s] ?? 0) + 1).filter((t) => t > seq));
      for (const target of targets)
        await notify(recordWorkflowId(sourceId, target), (h) => h.signal(gateSignal, { watermarks: result.watermarks }));
      return { sourceId, seq, status: 'skipped', stage: result.stage };
    },
  );

  app.post(
    '/v1/sources/:sourceId/records/:seq/retry',
    {
      schema: {
        summary: "Run a blocked record's stage again (after fixing the cause)",
        params: RecordParams,
        body: Type.Optional(OperatorBody),
        response: { 200: OperatorReply, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId, seq } = request.params;
      const region = await activeRegion(app.pool);
      const result = await retryRecord(app.pool, sourceId, seq, async () => {
        const workflowId = recordWorkflowId(sourceId, seq);
        try {
          const client = await app.temporal.client(region.name);
          // Bounded: a hung server must not hold the record's row lock (and this request) for long.
          await client.connection.withDeadline(Date.now() + RETRY_SIGNAL_TIMEOUT_MS, () =>
            client.workflow.getHandle(workflowId).signal(retrySignal),
          );
          return 'signalled';
        } catch (err) {
          // No run, or an ended one (e.g. superseded by a failover): a new run is started at the blocked stage.
          if (err instanceof WorkflowNotFoundError) return 'no_workflow';
          request.log.warn({ workflowId, region: region.name, err: (err as Error).message }, 'retry signal failed; nothing changed');
          throw new ApiError(
            503,
            'temporal_unavailable',
            `the retry could not reach ${workflowId} in ${region.name} (${(err as Error).message}); the record is still blocked, try again`,
          );
        }
      });
      if (!result.ok) throw operatorError(result.reason, sourceId, seq, result.status);
      return { sourceId, seq, status: 'processing', stage: result.stage };
    },
  );
};

function operatorError(reason: 'not_found' | 'not_blocked', sourceId: string, seq: number, status?: string): ApiError {
  if (reason === 'not_found') return new ApiError(404, 'record_not_found', `no record ${seq} in source ${sourceId}`);
  return new ApiError(409, 'not_blocked', `record ${seq} of ${sourceId} is ${status}, not blocked`);
}
