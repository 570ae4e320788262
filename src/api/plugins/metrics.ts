// The Prometheus metrics as `app.metrics`, counting every answer from here on; read from the
// decorated pool, region router and reconciler when scraped.
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
      reconciler: app.reconciler,
      maxSources: app.config.METRICS_MAX_SOURCES,
    });
    app.decorate('metrics', metrics);
    metrics.hook(app);
  },
  { name: 'metrics', dependencies: ['config', 'db', 'region-router', 'reconciler'] },
);
