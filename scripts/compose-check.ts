// `npm run compose:check`: checks docker-compose.yml against the code without a Docker engine:
// the topology of npm start, entry points the build produces, only variables the configuration
// reads, the default ports, namespaces and search attributes, health checks and restart policies;
// and around it Prometheus's scrape targets, Grafana's provisioning, the dashboard's queries
// against the metrics the code exports, Jaeger and the services' OTLP settings.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { EnvSchema, loadConfig } from '../src/config';
import { REGIONS, WORKER_ROLES, defaultNamespace, SEARCH_ATTRIBUTES } from '../src/contracts/names';
import type { MetricObject } from 'prom-client';
import { PipelineMetrics, type MetricsOptions } from '../src/api/metrics';
import { HISTORY_SHARDS, SCHEMAS, SQL_PLUGIN, TEMPORAL_SERVER_VERSION, dynamicConfig } from '../src/launcher/temporal-server';
import {
  DASHBOARD_FILE,
  WORKER_FAMILIES,
  dashboardQueries,
  metricNames,
  queryLabels,
  readDashboard,
  seriesNames,
} from './dashboard-metrics';

type Service = Record<string, any>;

function projectRoot(dir = __dirname): string {
  return fs.existsSync(path.join(dir, 'package.json')) ? dir : projectRoot(path.dirname(dir));
}

export function readCompose(file: string): Record<string, Service> {
  return YAML.parse(fs.readFileSync(file, 'utf8'), { merge: true }).services ?? {};
}

/** The API replicas: api, api-2, ... */
const apiServices = (services: Record<string, Service>) => Object.keys(services).filter((s) => s === 'api' || s.startsWith('api-'));

/**
 * Compose runs what TEMPORAL_SERVER=postgres runs (src/launcher/temporal-server.ts): the same server
 * version, shard count, schema steps and dynamic config.
 */
export function temporalServerProblems(services: Record<string, Service>, root: string): string[] {
  const problems: string[] = [];
  const expect = (ok: unknown, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
  const server = services.temporal ?? {};
  const env = (server.environment ?? {}) as Record<string, unknown>;
  expect(server.image === `temporalio/server:${version}`, `temporal: image is not temporalio/server:${version}, the launcher's server`);
  for (const name of ['temporal-schema', 'temporal-setup'])
    expect(services[name]?.image === `temporalio/admin-tools:${version}`, `${name}: image is not temporalio/admin-tools:${version}`);
  expect(env.DB === SQL_PLUGIN, `temporal: DB is not ${SQL_PLUGIN}`);
  expect(
    String(env.NUM_HISTORY_SHARDS) === String(HISTORY_SHARDS),
    `temporal: NUM_HISTORY_SHARDS is not ${HISTORY_SHARDS}, the launcher's`,
  );
  expect(
    server.depends_on?.['temporal-schema']?.condition === 'service_completed_successfully',
    'temporal: does not wait for temporal-schema to complete',
  );
  const schema = (services['temporal-schema']?.command ?? []).join(' ');
  for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema --schema-name', `--plugin ${SQL_PLUGIN}`])
    expect(schema.includes(step), `temporal-schema does not run ${step}`);
  for (const s of Object.values(SCHEMAS)) expect(schema.includes(s), `temporal-schema does not apply ${s}`);
  const target = String(env.DYNAMIC_CONFIG_FILE_PATH ?? '');
  const mount = ((server.volumes ?? []) as string[]).map((v) => v.split(':')).find(([, to]) => to === target);
  expect(mount, `temporal: DYNAMIC_CONFIG_FILE_PATH (${target || 'unset'}) is not a mounted file`);
  if (mount) {
    const file = path.join(root, mount[0]);
    const same = fs.existsSync(file) && JSON.stringify(YAML.parse(fs.readFileSync(file, 'utf8'))) === JSON.stringify(dynamicConfig());
    expect(same, `temporal: ${mount[0]} is not the launcher's dynamic config (dynamicConfig() in src/launcher/temporal-server.ts)`);
  }
  return problems;
}

/** Every way the compose file disagrees with the code; empty when it is consistent. */
export function composeProblems(services: Record<string, Service>, root = projectRoot()): string[] {
  const problems: string[] = [];
  const expect = (ok: unknown, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const defaults = loadConfig({});
  for (const name of ['postgres', 'temporal-schema', 'temporal', 'temporal-setup', 'temporal-ui', 'api', 'prometheus', 'grafana', 'jaeger'])
    expect(services[name], `service ${name} is missing`);
  for (const region of REGIONS) {
    for (const role of WORKER_ROLES) {
      const svc = services[`worker-${region}-${role}`];
      expect(svc, `service worker-${region}-${role} is missing`);
      if (svc)
        expect(
          JSON.stringify(svc.command) === JSON.stringify(['node', 'dist/src/workers/worker.js', region, role]),
          `worker-${region}-${role}: command is not worker.js ${region} ${role}`,
        );
    }
  }
  const workers = Object.keys(services).filter((s) => s.startsWith('worker-'));
  expect(
    workers.length === REGIONS.length * WORKER_ROLES.length,
    `${workers.length} worker services, expected ${REGIONS.length * WORKER_ROLES.length}`,
  );

  const tsEntry = (js: string) => path.join(root, js.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
  for (const [name, svc] of Object.entries(services)) {
    if (svc.command?.[0] === 'node')
      expect(fs.existsSync(tsEntry(svc.command[1])), `${name}: ${svc.command[1]} is not built from any source file`);
  }
  expect(/npm run build/.test(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')), 'the Dockerfile does not run npm run build');

  const api = services.api ?? {};
  expect(api.ports?.includes(`${defaults.PORT}:${defaults.PORT}`), `api does not publish ${defaults.PORT}`);
  expect(String(api.environment?.PORT) === String(defaults.PORT), `api PORT is not ${defaults.PORT}`);
  expect(services.temporal?.ports?.includes(`${defaults.TEMPORAL_PORT}:7233`), `temporal does not publish ${defaults.TEMPORAL_PORT}`);
  expect(
    services['temporal-ui']?.ports?.includes(`${defaults.TEMPORAL_UI_PORT}:8080`),
    `temporal-ui does not publish ${defaults.TEMPORAL_UI_PORT}`,
  );

  // The front door is highly available: at least two API replicas, each the same process and settings.
  const apis = apiServices(services);
  expect(apis.length >= 2, `${apis.length} API service(s): run at least two replicas (api, api-2)`);
  for (const name of apis) {
    const svc = services[name];
    expect(JSON.stringify(svc.command) === JSON.stringify(api.command), `${name}: command differs from api's`);
    expect(JSON.stringify(svc.environment) === JSON.stringify(api.environment), `${name}: environment differs from api's`);
    expect(JSON.stringify(svc.healthcheck?.test ?? '').includes('/healthz'), `${name}: the health check does not call /healthz`);
  }
  // The control role needs a process to run it, and a second to take it over.
  const candidates = Object.entries(services).filter(
    ([name, svc]) =>
      (apis.includes(name) && (svc.environment as Record<string, unknown> | undefined)?.CONTROL !== 'off') ||
      svc.command?.[1] === 'dist/src/control/main.js',
  );
  expect(candidates.length >= 2, `${candidates.length} process(es) may hold the control role: at least two are needed for it to move`);

  const known = new Set([...Object.keys(EnvSchema.properties), ...OTEL_VARIABLES]);
  for (const [name, svc] of Object.entries(services)) {
    if (!apis.includes(name) && !name.startsWith('worker-')) continue;
    const env = (svc.environment ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(env)) expect(known.has(key), `${name}: ${key} is not read by the configuration`);
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT === 'http://jaeger:4318', `${name}: OTEL_EXPORTER_OTLP_ENDPOINT is not http://jaeger:4318`);
    // The API replicas are one service (the traces tell the instances apart by host).
    const service = `record-pipeline-${apis.includes(name) ? 'api' : name}`;
    expect(env.OTEL_SERVICE_NAME === service, `${name}: OTEL_SERVICE_NAME is not ${service}`);
    expect(
      /^postgres:\/\/.*@postgres:5432\/pipeline$/.test(String(env.DATABASE_URL)),
      `${name}: DATABASE_URL does not point at the postgres service`,
    );
    expect(env.TEMPORAL_ADDRESS === 'temporal:7233', `${name}: TEMPORAL_ADDRESS is not temporal:7233`);
    try {
      loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  expect(
    services['worker-west-core']?.environment?.NAMESPACE_WEST === defaultNamespace('west'),
    'worker-west-core: NAMESPACE_WEST is not the default',
  );

  const setup = (services['temporal-setup']?.command ?? []).join(' ');
  for (const region of REGIONS)
    expect(setup.includes(defaultNamespace(region)), `temporal-setup does not create ${defaultNamespace(region)}`);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    expect(setup.includes(`--name ${name} --type ${type}`), `temporal-setup does not create the search attribute ${name}`);

  problems.push(...temporalServerProblems(services, root));

  for (const [name, svc] of Object.entries(services)) {
    if (name === 'temporal-setup' || name === 'temporal-schema') continue;
    expect(svc.restart === 'unless-stopped', `${name}: restart is ${svc.restart ?? 'not set'}, expected unless-stopped`);
    if (svc.image) expect(/:v?\d[\w.-]*$/.test(svc.image), `${name}: image ${svc.image} is not pinned to a version`);
    // The UIs' images have no shell or HTTP client to run a check with.
    if (name !== 'temporal-ui' && name !== 'jaeger')
      expect(Array.isArray(svc.healthcheck?.test) && svc.healthcheck.test.length > 0, `${name}: no health check`);
  }
  // The API's container is restarted on liveness, not readiness: a Temporal outage must not restart it.
  expect(JSON.stringify(api.healthcheck?.test ?? '').includes('/healthz'), 'api: the health check does not call /healthz');
  for (const w of workers) {
    const env = services[w].environment ?? {};
    const port = String(env.METRICS_PORT ?? '');
    expect(
      port && port !== '0' && JSON.stringify(services[w].healthcheck?.test ?? '').includes(`:${port}/metrics`),
      `${w}: the health check does not call its metrics port`,
    );
  }
  problems.push(...observabilityProblems(services, root));
  return problems;
}

/** OpenTelemetry's own variables: read by its SDK in each process, not by the configuration. */
const OTEL_VARIABLES = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'];

/** The host-side file of a bind mount `./x:/y[:ro]` of a service whose target is `target`. */
function mountSource(svc: Service | undefined, target: string, root: string): string | undefined {
  for (const v of (svc?.volumes ?? []) as string[]) {
    const [source, to] = String(v).split(':');
    if (to === target && source.startsWith('.')) return path.join(root, source);
  }
  return undefined;
}

/**
 * Every metric series the code exports, with its label names where the code declares them: the
 * API's registry (a histogram's buckets add `le`), and the workers' families (their labels come from
 * the SDK: undefined here, checked on a live scrape). The API's Node.js process metrics
 * (`pipeline_api_*`) are not listed; the observability e2e test checks every query live.
 */
export function exportedMetrics(): Map<string, Set<string> | undefined> {
  const out = new Map<string, Set<string> | undefined>();
  const api = new PipelineMetrics({ processMetrics: false } as MetricsOptions).registry.getMetricsAsArray();
  for (const m of api as (MetricObject & { labelNames?: string[] })[])
    for (const series of seriesNames(m.name, String(m.type)))
      out.set(series, new Set([...(m.labelNames ?? []), ...(series.endsWith('_bucket') ? ['le'] : [])]));
  for (const [name, type] of Object.entries(WORKER_FAMILIES)) for (const series of seriesNames(name, type)) out.set(series, undefined);
  return out;
}

/** Prometheus scrapes the API and every worker on its metrics port; Grafana loads the dashboard from it; Jaeger takes OTLP. */
export function observabilityProblems(services: Record<string, Service>, root = projectRoot()): string[] {
  const problems: string[] = [];
  const expect = (ok: unknown, problem: string) => {
    if (!ok) problems.push(problem);
  };

  const promFile = mountSource(services.prometheus, '/etc/prometheus/prometheus.yml', root);
  expect(promFile && fs.existsSync(promFile), 'prometheus: no prometheus.yml mounted at /etc/prometheus/prometheus.yml');
  if (promFile && fs.existsSync(promFile)) {
    const config = YAML.parse(fs.readFileSync(promFile, 'utf8')) as {
      scrape_configs?: { job_name: string; metrics_path?: string; static_configs?: { targets?: string[] }[] }[];
    };
    const targets = new Set<string>();
    for (const job of config.scrape_configs ?? []) {
      expect((job.metrics_path ?? '/metrics') === '/metrics', `prometheus: job ${job.job_name} does not scrape /metrics`);
      for (const t of (job.static_configs ?? []).flatMap((c) => c.targets ?? [])) targets.add(t);
    }
    const wanted = new Set<string>();
    for (const name of apiServices(services)) {
      const apiPort = services[name]?.environment?.PORT;
      if (apiPort !== undefined) wanted.add(`${name}:${apiPort}`);
    }
    for (const [name, svc] of Object.entries(services))
      if (name.startsWith('worker-') && svc.environment?.METRICS_PORT) wanted.add(`${name}:${svc.environment.METRICS_PORT}`);
    for (const t of wanted) expect(targets.has(t), `prometheus: does not scrape ${t}`);
    for (const t of targets) expect(wanted.has(t), `prometheus: scrapes ${t}, which no service serves`);
  }

  const grafana = services.grafana ?? {};
  const provisioning = mountSource(grafana, '/etc/grafana/provisioning', root);
  expect(provisioning && fs.existsSync(provisioning), 'grafana: no provisioning folder mounted at /etc/grafana/provisioning');
  const dashboards = mountSource(grafana, '/var/lib/grafana/dashboards', root);
  expect(
    dashboards && fs.existsSync(path.join(dashboards, path.basename(DASHBOARD_FILE))),
    `grafana: ${DASHBOARD_FILE} is not mounted at /var/lib/grafana/dashboards`,
  );
  const home = String(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '');
  expect(
    home === `/var/lib/grafana/dashboards/${path.basename(DASHBOARD_FILE)}`,
    `grafana: the home dashboard is not ${path.basename(DASHBOARD_FILE)}`,
  );
  if (provisioning && fs.existsSync(provisioning)) {
    const yamlIn = (dir: string) =>
      fs.existsSync(path.join(provisioning, dir))
        ? fs.readdirSync(path.join(provisioning, dir)).map((f) => YAML.parse(fs.readFileSync(path.join(provisioning, dir, f), 'utf8')))
        : [];
    const sources = yamlIn('datasources').flatMap(
      (f: { datasources?: { uid?: string; type?: string; url?: string }[] }) => f.datasources ?? [],
    );
    const prometheus = sources.find((d) => d.type === 'prometheus');
    expect(prometheus?.url === 'http://prometheus:9090', 'grafana: no Prometheus data source at http://prometheus:9090');
    const providers = yamlIn('dashboards').flatMap((f: { providers?: { options?: { path?: string } }[] }) => f.providers ?? []);
    expect(
      providers.some((p) => p.options?.path === '/var/lib/grafana/dashboards'),
      'grafana: no dashboard provider reads /var/lib/grafana/dashboards',
    );
    const uids = new Set<string>();
    JSON.stringify(readDashboard(root), (key, value: unknown) => {
      if (key === 'datasource' && value && typeof value === 'object') uids.add(String((value as { uid?: string }).uid));
      return value;
    });
    for (const uid of uids)
      expect(uid === prometheus?.uid, `dashboard: data source ${uid} is not the provisioned Prometheus (${prometheus?.uid})`);
  }

  const exported = exportedMetrics();
  for (const q of dashboardQueries(readDashboard(root))) {
    try {
      const names = metricNames(q.expr);
      for (const name of names) expect(exported.has(name), `dashboard: ${name} (${q.panel}) is not exported by the API or the workers`);
      // Labels of the API's metrics are declared in the code (Prometheus adds instance and job).
      const declared = names.map((n) => exported.get(n));
      if (names.length && declared.every((d) => d)) {
        const have = new Set(['instance', 'job', ...declared.flatMap((d) => [...d!])]);
        for (const label of queryLabels(q)) expect(have.has(label), `dashboard: ${q.panel}: label ${label} is not on ${names.join(', ')}`);
      }
    } catch (err) {
      problems.push(`dashboard: ${q.panel}: ${(err as Error).message}`);
    }
  }

  const jaeger = services.jaeger ?? {};
  expect(/^jaegertracing\/all-in-one:/.test(String(jaeger.image)), 'jaeger: not the all-in-one image');
  for (const port of ['4318', '16686']) expect((jaeger.ports ?? []).includes(`${port}:${port}`), `jaeger: does not publish ${port}`);
  return problems;
}

if (require.main === module) {
  const file = path.join(projectRoot(), process.argv[2] ?? 'docker-compose.yml');
  const problems = composeProblems(readCompose(file));
  if (problems.length) {
    process.stderr.write(`${file}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`${file}: consistent with the code (${Object.keys(readCompose(file)).length} services)\n`);
}
