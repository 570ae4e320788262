// The Fastify app: plugins, schemas, routes. server.ts owns listening and shutdown.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Ajv from 'ajv';
import type { Config } from '../config';
import type { Pool } from '../db/pool';
import type { TemporalClients } from '../temporal/clients';
import type { WorkflowStarter } from '../control/starter';
import type { WorkerControl } from './worker-control';
import type { RegionRouter } from '../control/region-router';
import type { Reconciler } from '../control/reconciler';
import type { ControlLease } from '../control/lease';
import { registerErrorHandling } from './errors';
import { authPlugin } from './auth';
import { limitsPlugin } from './limits';
import { configPlugin } from './plugins/config';
import { dbPlugin } from './plugins/db';
import { temporalPlugin } from './plugins/temporal';
import { starterPlugin } from './plugins/starter';
import { regionRouterPlugin } from './plugins/region-router';
import { reconcilerPlugin } from './plugins/reconciler';
import { workerControlPlugin } from './plugins/worker-control';
import { metricsPlugin } from './plugins/metrics';
import { keyRoutes } from './routes/keys';
import { destinationRoutes } from './routes/destinations';
import { recordRoutes } from './routes/records';
import { sourceRoutes } from './routes/sources';
import { adminRoutes } from './routes/admin';
import { healthRoutes } from './routes/health';
import { statsRoutes } from './routes/stats';
import { reconcileRoutes } from './routes/reconcile';

/** The services the process made; the plugins below hand them to the routes as decorators. */
export interface AppDeps {
  config: Config;
  pool: Pool;
  temporal: TemporalClients;
  starter: WorkflowStarter;
  workers: WorkerControl;
  router: RegionRouter;
  reconciler: Reconciler;
  /** This process's control lease (undefined: CONTROL=off, or an app built without the role). */
  lease?: ControlLease;
}

// Bodies are taken as sent: no coercion ("5" is not 5), no silent removal of unknown fields.
const bodyAjv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
// Path and query strings are text: coerce them to the declared types.
const paramAjv = new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: true, strict: false });

export async function buildApp(deps: AppDeps, opts: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.config.BODY_LIMIT_BYTES,
    // Source ids are up to 128 characters (the default limit is 100).
    routerOptions: { maxParamLength: 256 },
    // A URL the router cannot decode (e.g. `%zz`) gets the house error shape too.
    frameworkErrors: (err, _request, reply) =>
      void (reply as unknown as FastifyReply).code(400).send({ error: 'bad_url', message: err.message }),
    ...opts,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema));
  await app.register(configPlugin, { config: deps.config });
  await app.register(dbPlugin, { pool: deps.pool, databaseUrl: deps.config.AUTH === 'on' ? deps.config.databaseUrl : undefined });
  await app.register(temporalPlugin, { temporal: deps.temporal });
  await app.register(starterPlugin, { starter: deps.starter });
  await app.register(regionRouterPlugin, { regionRouter: deps.router });
  await app.register(reconcilerPlugin, { reconciler: deps.reconciler, lease: deps.lease });
  await app.register(workerControlPlugin, { workerControl: deps.workers });
  // Ahead of auth and the routes: its onResponse hook counts every answer, refusals included.
  await app.register(metricsPlugin);
  // JSON only: anything else is 415, not a parse attempt.
  app.removeContentTypeParser('text/plain');
  registerErrorHandling(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Ordered record pipeline',
        version: '1',
        description: 'Submit records; each passes five stages in per-source order on Temporal.',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // Before every route: auth decides who calls, then the limits apply per caller.
  await app.register(authPlugin, {
    mode: deps.config.AUTH,
    adminToken: deps.config.ADMIN_TOKEN,
    failuresPerMinute: deps.config.AUTH_FAILURES_PER_MINUTE,
  });
  await app.register(limitsPlugin, { ratePerMinute: deps.config.RATE_LIMIT_PER_MINUTE });

  await app.register(healthRoutes);
  await app.register(recordRoutes);
  await app.register(sourceRoutes);
  await app.register(adminRoutes);
  await app.register(statsRoutes);
  await app.register(reconcileRoutes);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text format)', produces: ['text/plain'] } }, async (_request, reply) =>
    reply.type(app.metrics.registry.contentType).send(await app.metrics.text()),
  );
  await app.register(keyRoutes);
  await app.register(destinationRoutes);
  return app;
}
