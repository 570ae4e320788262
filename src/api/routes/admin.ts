import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { isRegion, REGIONS, STAGES, WORKER_ROLES } from '../../contracts/names';
import { ApiError } from '../errors';
import { FailoverBusy, FailoverRefused } from '../../db/failover';
import { clearFault, injectFault, listFaults } from '../../db/faults';
import { ServerInfo, WorkerInfo } from '../../contracts/control';
import { FailoverResult, RegionHealth } from '../../contracts/failover';
import { ControlView } from '../../contracts/control-role';
import { controlView } from '../control-view';
import { ErrorBody, WorkersReply } from '../schemas';

const WorkerParams = Type.Object({
  region: Type.Union(REGIONS.map((r) => Type.Literal(r))),
  stage: Type.Union(WORKER_ROLES.map((r) => Type.Literal(r))),
});

const StopBody = Type.Union([
  Type.Object(
    {
      signal: Type.Optional(Type.Union([Type.Literal('SIGTERM'), Type.Literal('SIGKILL')], { description: 'SIGKILL: no grace period' })),
      copy: Type.Optional(Type.Integer({ minimum: 1, description: 'only this copy of the stage workers (default: every copy)' })),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
const ServerStopBody = Type.Union([
  Type.Object(
    { signal: Type.Optional(Type.Union([Type.Literal('SIGTERM'), Type.Literal('SIGKILL')], { description: 'SIGKILL: no grace period' })) },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
const WorkerAction = Type.Composite([
  WorkerInfo,
  Type.Object({ copies: Type.Array(WorkerInfo, { description: 'every process acted on' }) }),
]);
// Pause and resume take no options; an empty object (or nothing) is the only body accepted.
const NoBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()]);
const RegionParams = Type.Object({ region: Type.Union(REGIONS.map((r) => Type.Literal(r))) });

const FaultBody = Type.Object(
  {
    region: Type.Union(REGIONS.map((r) => Type.Literal(r))),
    stage: Type.Union(STAGES.map((s) => Type.Literal(s))),
    action: Type.Union([Type.Literal('fail'), Type.Literal('recover')]),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
const Fault = Type.Object({
  region: Type.String(),
  stage: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  since: Type.String(),
});

const RegionsReply = Type.Object({
  active: Type.String(),
  epoch: Type.Integer(),
  mode: Type.String(),
  failovers: Type.Integer({ description: 'failovers run by this API process' }),
  control: ControlView,
  regions: Type.Array(RegionHealth),
  servers: Type.Array(ServerInfo, { description: 'Temporal dev servers run by the supervisor' }),
});
const FailoverBody = Type.Object(
  {
    to: Type.String({ description: 'the region to make active', minLength: 1, maxLength: 64 }),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/admin/regions',
    { schema: { summary: 'Both regions: health, pollers per task queue, which is active, the epoch', response: { 200: RegionsReply } } },
    async () => ({
      ...(await app.regionRouter.status()),
      failovers: app.regionRouter.failovers,
      control: await controlView(app.pool, app.controlLease),
      servers: await app.workerControl.servers(),
    }),
  );

  app.post(
    '/v1/admin/failover',
    {
      schema: {
        summary: 'Fail over (or back) to a region: new epoch, old region fenced, open records re-driven there',
        body: FailoverBody,
        response: { 200: FailoverResult, 400: ErrorBody, 409: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const { to, reason } = request.body;
      try {
        return await app.regionRouter.failover(to, reason ?? 'manual');
      } catch (err) {
        if (err instanceof FailoverRefused) {
          throw new ApiError(err.code === 'unknown_region' ? 400 : 409, err.code, err.message);
        }
        // Writers held the region lock past the switch's deadline: nothing changed, try again.
        if (err instanceof FailoverBusy) throw new ApiError(503, err.code, err.message, undefined, { 'retry-after': '5' });
        throw err;
      }
    },
  );

  app.get(
    '/v1/admin/workers',
    { schema: { summary: 'Every worker process: region, stage, pid, state', response: { 200: WorkersReply } } },
    async () => ({ supervised: app.workerControl.supervised, workers: await app.workerControl.list() }),
  );

  const requireSupervisor = () => {
    if (!app.workerControl.supervised) {
      throw new ApiError(503, 'not_supervised', "processes are not run by this API's supervisor (start the system with npm start)");
    }
  };
  const controlFailed = (err: unknown) => new ApiError(409, 'control_failed', (err as Error).message);

  for (const action of ['stop', 'start'] as const) {
    app.post(
      `/v1/admin/workers/:region/:stage/${action}`,
      {
        schema: {
          summary: `${action === 'stop' ? 'Stop' : 'Start'} a worker process (the container of a stage in a region)`,
          params: WorkerParams,
          body: Type.Optional(StopBody),
          response: { 200: WorkerAction, 409: ErrorBody, 503: ErrorBody },
        },
      },
      async (request) => {
        const { region, stage } = request.params;
        requireSupervisor();
        try {
          const copy = request.body?.copy;
          return action === 'stop'
            ? await app.workerControl.stop(region, stage, request.body?.signal, copy)
            : await app.workerControl.start(region, stage, copy);
        } catch (err) {
          throw controlFailed(err);
        }
      },
    );
    app.post(
      `/v1/admin/regions/:region/server/${action}`,
      {
        schema: {
          summary: `${action === 'stop' ? 'Stop (or kill)' : 'Start'} a region's Temporal dev server: a region outage on purpose`,
          params: RegionParams,
          body: Type.Optional(ServerStopBody),
          response: { 200: ServerInfo, 409: ErrorBody, 503: ErrorBody },
        },
      },
      async (request) => {
        requireSupervisor();
        try {
          return action === 'stop'
            ? await app.workerControl.stopServer(request.params.region, request.body?.signal)
            : await app.workerControl.startServer(request.params.region);
        } catch (err) {
          throw controlFailed(err);
        }
      },
    );
  }

  // SIGSTOP / SIGCONT: a hung server keeps its connections open and answers nothing, which a probe
  // sees only through its timeout (unlike a killed one, whose connections are refused at once).
  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/admin/regions/:region/server/${action}`,
      {
        schema: {
          summary:
            action === 'pause'
              ? "Pause a region's Temporal dev server (SIGSTOP): a hung server, not a dead one"
              : 'Resume a paused Temporal dev server (SIGCONT); a no-op when it is not paused',
          params: RegionParams,
          body: Type.Optional(NoBody),
          response: { 200: ServerInfo, 400: ErrorBody, 409: ErrorBody, 503: ErrorBody },
        },
      },
      async (request) => {
        requireSupervisor();
        try {
          return action === 'pause'
            ? await app.workerControl.pauseServer(request.params.region)
            : await app.workerControl.resumeServer(request.params.region);
        } catch (err) {
          throw controlFailed(err);
        }
      },
    );
  }

  app.get(
    '/v1/admin/faults',
    { schema: { summary: 'Active injected dependency failures', response: { 200: Type.Object({ faults: Type.Array(Fault) }) } } },
    async () => {
      const rows = await listFaults(app.pool);
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
      if (action === 'fail') await injectFault(app.pool, region, stage, reason ?? 'injected by operator');
      else await clearFault(app.pool, region, stage);
      return { region, stage, failed: action === 'fail' };
    },
  );
};
