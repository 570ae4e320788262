import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { isRegion, REGIONS, STAGES, WORKER_ROLES } from '../../names';
import { ApiError } from '../errors';
import { ErrorBody, WorkerInfo, WorkersReply } from '../schemas';

const WorkerParams = Type.Object({
  region: Type.Union(REGIONS.map((r) => Type.Literal(r))),
  stage: Type.Union(WORKER_ROLES.map((r) => Type.Literal(r))),
});

const FaultBody = Type.Object(
  {
    region: Type.Union(REGIONS.map((r) => Type.Literal(r))),
    stage: Type.Union(STAGES.map((s) => Type.Literal(s))),
    action: Type.Union([Type.Literal('fail'), Type.Literal('recover')]),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
const Fault = Type.Object({ region: Type.String(), stage: Type.String(), reason: Type.Union([Type.String(), Type.Null()]), since: Type.String() });

export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/admin/workers',
    { schema: { summary: 'Every worker process: region, stage, pid, state', response: { 200: WorkersReply } } },
    async () => ({ supervised: app.deps.workers.supervised, workers: await app.deps.workers.list() }),
  );

  for (const action of ['stop', 'start'] as const) {
    app.post(
      `/v1/admin/workers/:region/:stage/${action}`,
      {
        schema: {
          summary: `${action === 'stop' ? 'Stop' : 'Start'} a worker process (the container of a stage in a region)`,
          params: WorkerParams,
          response: { 200: WorkerInfo, 409: ErrorBody, 503: ErrorBody },
        },
      },
      async (request) => {
        const { region, stage } = request.params;
        if (!app.deps.workers.supervised) {
          throw new ApiError(503, 'not_supervised', 'workers are not run by this API\'s supervisor (start the system with npm start)');
        }
        try {
          return await app.deps.workers[action](region, stage);
        } catch (err) {
          throw new ApiError(409, 'worker_control_failed', (err as Error).message);
        }
      },
    );
  }

  app.get(
    '/v1/admin/faults',
    { schema: { summary: 'Active injected dependency failures', response: { 200: Type.Object({ faults: Type.Array(Fault) }) } } },
    async () => {
      const { rows } = await app.deps.pool.query<{ region: string; stage: string; reason: string | null; created_at: Date }>(
        'SELECT region, stage, reason, created_at FROM faults ORDER BY region, stage',
      );
      return { faults: rows.map((r) => ({ region: r.region, stage: r.stage, reason: r.reason, since: r.created_at.toISOString() })) };
    },
  );

  app.post(
    '/v1/admin/faults',
    {
      schema: {
        summary: "Fail or recover a stage's dependency in a region",
        body: FaultBody,
        response: { 200: Type.Object({ region: Type.String(), stage: Type.String(), failed: Type.Boolean() }), 400: ErrorBody },
      },
    },
    async (request) => {
      const { region, stage, action, reason } = request.body;
      if (!isRegion(region)) throw new ApiError(400, 'unknown_region', `no region ${region}`);
      if (action === 'fail') {
        await app.deps.pool.query(
          'INSERT INTO faults (region, stage, reason) VALUES ($1, $2, $3) ON CONFLICT (region, stage) DO UPDATE SET reason = EXCLUDED.reason',
          [region, stage, reason ?? 'injected by operator'],
        );
      } else {
        await app.deps.pool.query('DELETE FROM faults WHERE region = $1 AND stage = $2', [region, stage]);
      }
      return { region, stage, failed: action === 'fail' };
    },
  );
};
