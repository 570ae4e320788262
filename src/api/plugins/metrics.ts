// The Prometheus metrics as `app.metrics`, counting every answer from here on; read from the
// decorated pool, region router and control lease when scraped.
import fp from 'fastify-plugin';
import { PipelineMetrics } from '../metrics';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: PipelineMetrics;
  }
}

export const metricsPlugin = fp(
  async (app) => {
    const metrics = new PipelineMetrics({
      pool: app.pool,
      router: app.regionRouter,
      lease: app.controlLease,
      maxSources: app.config.METRICS_MAX_SOURCES,
    });
    app.decorate('metrics', metrics);
    metrics.hook(app);
  },
  { name: 'metrics', dependencies: ['config', 'db', 'region-router', 'reconciler'] },
);
