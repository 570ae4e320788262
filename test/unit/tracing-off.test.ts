// Tracing off costs nothing: without OTEL_EXPORTER_OTLP_ENDPOINT the API's and the workers' modules
// load no OpenTelemetry SDK, exporter, instrumentation or Temporal interceptor (only the tiny no-op
// @opentelemetry/api). With it set, the same modules start the SDK. Runs the built code in a child
// process, whose module cache is its own (after `npm run build`).
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '..', '..');
const HEAVY =
  /node_modules\/(@opentelemetry\/(?:sdk-|exporter-|instrumentation|resources)[^/]*|@temporalio\/interceptors-opentelemetry|@fastify\/otel)\//;

/** The OpenTelemetry packages loaded once the entry points' first imports and the app are required. */
function loaded(env: Record<string, string>): string[] {
  const script = `
    process.argv.push('east', 'core');
    for (const m of ['src/workers/tracing', 'src/api/tracing', 'src/api/app', 'src/temporal/clients', 'src/activities/stage', 'src/logger'])
      require(${JSON.stringify(path.join(ROOT, 'dist'))} + '/' + m);
    const seen = new Set(Object.keys(require.cache).map((f) => (f.match(${HEAVY.toString()}) || [])[1]).filter(Boolean));
    process.stdout.write(JSON.stringify([...seen].sort()));
    process.exit(0);`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_'))) as Record<string, string>;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...clean, ...env }, encoding: 'utf8' })) as string[];
}

describe('tracing', () => {
  it('off (no OTLP endpoint): no SDK, exporter, instrumentation or interceptor is loaded', () => {
    expect(loaded({})).toEqual([]);
  });

  it('on (OTEL_EXPORTER_OTLP_ENDPOINT set): the SDK, the OTLP exporter and the pg and Fastify instrumentations are', () => {
    const on = loaded({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }).join(' ');
    for (const pkg of [
      '@opentelemetry/sdk-node',
      '@opentelemetry/exporter-trace-otlp-proto',
      '@opentelemetry/instrumentation-pg',
      '@fastify/otel',
    ])
      expect(on).toContain(pkg);
  });
});
