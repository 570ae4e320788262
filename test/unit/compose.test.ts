// docker-compose.yml is not run here (no Docker engine): `npm run compose:check` checks it matches
// the code; this test runs the same check, and shows that it catches a broken file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { composeProblems, observabilityProblems, readCompose, temporalServerProblems } from '../../scripts/compose-check';
import {
  DASHBOARD_FILE,
  dashboardMetricNames,
  exportedNames,
  metricNames,
  queryLabels,
  readDashboard,
  sampleLabels,
} from '../../scripts/dashboard-metrics';

const ROOT = path.resolve(__dirname, '..', '..');
const services = readCompose(path.join(ROOT, 'docker-compose.yml'));

describe('docker-compose.yml', () => {
  it('is consistent with the code: topology, entry points, variables, ports, health checks, restart policies, observability', () => {
    expect(composeProblems(services)).toEqual([]);
  });

  it("runs the launcher's dynamic config for the Temporal server, and is reported when it differs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-'));
    try {
      fs.mkdirSync(path.join(dir, 'temporal'));
      const file = path.join(dir, 'temporal', 'dynamic-config.yaml');
      const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'temporal', 'dynamic-config.yaml'), 'utf8'));
      config['matching.longPollExpirationInterval'] = [{ value: '60s' }];
      fs.writeFileSync(file, YAML.stringify(config));
      expect(temporalServerProblems(services, ROOT)).toEqual([]);
      expect(temporalServerProblems(services, dir)).toEqual([
        "temporal: ./temporal/dynamic-config.yaml is not the launcher's dynamic config (dynamicConfig() in src/launcher/temporal-server.ts)",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is reported when broken', () => {
    const broken = structuredClone(services);
    delete broken['worker-west-core'];
    broken.api.environment.NO_SUCH_SETTING = 'x';
    broken['worker-east-core'].restart = 'no';
    delete broken.postgres.healthcheck;
    broken.api.healthcheck = { test: ['CMD', 'true'] };
    broken.prometheus.image = 'prom/prometheus:latest';
    delete broken['worker-east-inbound'].environment.OTEL_SERVICE_NAME;
    broken['worker-east-outbound'].environment.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://localhost:4318';
    broken.jaeger.ports = ['16686:16686'];
    broken.grafana.volumes = [];
    delete broken.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    delete broken['api-2'];
    broken.temporal.image = 'temporalio/auto-setup:1.29';
    broken.temporal.environment.NUM_HISTORY_SHARDS = 512;
    broken['temporal-schema'].command = ['temporal-sql-tool --db temporal setup-schema -v 0.0'];
    expect(composeProblems(broken)).toEqual(
      expect.arrayContaining([
        '1 API service(s): run at least two replicas (api, api-2)',
        '1 process(es) may hold the control role: at least two are needed for it to move',
        'service worker-west-core is missing',
        'api: NO_SUCH_SETTING is not read by the configuration',
        'worker-east-core: restart is no, expected unless-stopped',
        'postgres: no health check',
        'api: the health check does not call /healthz',
        'prometheus: image prom/prometheus:latest is not pinned to a version',
        'worker-east-inbound: OTEL_SERVICE_NAME is not record-pipeline-worker-east-inbound',
        'worker-east-outbound: OTEL_EXPORTER_OTLP_ENDPOINT is not http://jaeger:4318',
        'jaeger: does not publish 4318',
        'grafana: no provisioning folder mounted at /etc/grafana/provisioning',
        `grafana: ${DASHBOARD_FILE} is not mounted at /var/lib/grafana/dashboards`,
        'grafana: the home dashboard is not pipeline.json',
        "temporal: image is not temporalio/server:1.31.2, the launcher's server",
        "temporal: NUM_HISTORY_SHARDS is not 4, the launcher's",
        'temporal-schema does not run update-schema --schema-name',
        'temporal-schema does not apply postgresql/v12/visibility',
      ]),
    );
  });
});

describe('Prometheus, Grafana and the dashboard', () => {
  /** A copy of observability/ to break, as the root the check reads it from. */
  function brokenCopy(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-check-'));
    fs.cpSync(path.join(ROOT, 'observability'), path.join(root, 'observability'), { recursive: true });
    return root;
  }

  it('scrapes the API and exactly the worker services, each on its own METRICS_PORT', () => {
    const config = YAML.parse(fs.readFileSync(path.join(ROOT, 'observability', 'prometheus.yml'), 'utf8'));
    const targets = config.scrape_configs.flatMap((j: { static_configs: { targets: string[] }[] }) =>
      j.static_configs.flatMap((c) => c.targets),
    );
    const workers = Object.keys(services).filter((s) => s.startsWith('worker-'));
    expect(workers).toHaveLength(12);
    expect(targets.sort()).toEqual(
      ['api:3000', 'api-2:3000', ...workers.map((w) => `${w}:${services[w].environment.METRICS_PORT}`)].sort(),
    );
  });

  it('reports a missing or stray scrape target, a wrong data source, and dashboard queries of metrics or labels the code does not export', () => {
    const root = brokenCopy();
    const promFile = path.join(root, 'observability', 'prometheus.yml');
    const prom = YAML.parse(fs.readFileSync(promFile, 'utf8'));
    const workerJob = prom.scrape_configs.find((j: { job_name: string }) => j.job_name === 'workers');
    workerJob.static_configs[0].targets = workerJob.static_configs[0].targets.filter((t: string) => t !== 'worker-west-core:9464');
    workerJob.static_configs[0].targets.push('worker-north-core:9464');
    fs.writeFileSync(promFile, YAML.stringify(prom));
    const dsFile = path.join(root, 'observability', 'grafana', 'provisioning', 'datasources', 'prometheus.yml');
    fs.writeFileSync(dsFile, fs.readFileSync(dsFile, 'utf8').replace('http://prometheus:9090', 'http://localhost:9090'));
    const dashboard = readDashboard(ROOT);
    const panel = dashboard.panels.find((p) => p.targets?.length)!;
    panel.targets = [
      { expr: 'sum(rate(pipeline_no_such_metric_total[$__rate_interval]))' },
      // A histogram is exported as _bucket, _sum and _count, never under its family name.
      { expr: 'rate(temporal_activity_schedule_to_start_latency[5m])' },
      { expr: 'sum(rate(pipeline_records_accepted_total[5m]' },
      { expr: 'max by (region, stage) (increase(pipeline_fencing_refusals_total[5m]))', legendFormat: '{{region}} {{role}}' },
    ];
    fs.writeFileSync(path.join(root, DASHBOARD_FILE), JSON.stringify(dashboard));
    try {
      const problems = observabilityProblems(services, root);
      expect(problems).toEqual(
        expect.arrayContaining([
          'prometheus: does not scrape worker-west-core:9464',
          'prometheus: scrapes worker-north-core:9464, which no service serves',
          'grafana: no Prometheus data source at http://prometheus:9090',
          `dashboard: pipeline_no_such_metric_total (${panel.title}) is not exported by the API or the workers`,
          `dashboard: temporal_activity_schedule_to_start_latency (${panel.title}) is not exported by the API or the workers`,
          expect.stringMatching(new RegExp(`^dashboard: ${panel.title}: not PromQL at offset`)),
          `dashboard: ${panel.title}: label role is not on pipeline_fencing_refusals_total`,
        ]),
      );
      expect(problems).toHaveLength(7);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('queries what an operator watches: flow, latency, backlog, blocked and stalled, failovers, fencing, restarts, schedule-to-start', () => {
    const names = [...dashboardMetricNames(readDashboard(ROOT)).keys()];
    expect(names).toEqual(
      expect.arrayContaining([
        'pipeline_records_accepted_total',
        'pipeline_records_delivered_total',
        'pipeline_accept_to_delivered_seconds_bucket',
        'pipeline_stage_in_flight',
        'pipeline_records_blocked',
        'pipeline_reconciler_stalled_sources',
        'pipeline_failovers_total',
        'pipeline_fencing_refusals_total',
        'pipeline_worker_start_time_seconds',
        'temporal_activity_schedule_to_start_latency_bucket',
        'temporal_workflow_task_schedule_to_start_latency_bucket',
      ]),
    );
  });
});

describe('metric names in PromQL', () => {
  it('are the selectors, not functions, labels, grouping or Grafana variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_activity_schedule_to_start_latency_bucket{namespace=~"$ns"}[$__rate_interval])))',
      ),
    ).toEqual(['temporal_activity_schedule_to_start_latency_bucket']);
    expect(metricNames('max(count by (instance) (pipeline_records_blocked > 0)) or vector(0)')).toEqual(['pipeline_records_blocked']);
    expect(metricNames('a_total / on (region) group_left b{c="d"} + {__name__="e_seconds"}').sort()).toEqual(['a_total', 'b', 'e_seconds']);
    expect(metricNames('changes(pipeline_worker_start_time_seconds[1h])')).toEqual(['pipeline_worker_start_time_seconds']);
    expect(metricNames('time() - 5')).toEqual([]);
  });

  it('are refused from a query Prometheus could not parse', () => {
    expect(() => metricNames('sum(rate(x[5m])')).toThrow(/not PromQL/);
    expect(() => metricNames('rate(x[$unknown])')).toThrow(/not PromQL/);
    expect(() => metricNames('{__name__=~"pipeline_.*"}')).toThrow(/not PromQL/);
  });

  it('come with the label names a query and its legend use', () => {
    expect(
      queryLabels({
        expr: 'max by (region, stage) (increase(pipeline_fencing_refusals_total{region!="x"}[$__rate_interval])) / on (instance) group_left y{__name__="z"}',
        legendFormat: '{{region}} {{ stage }} {{role}}',
      }).sort(),
    ).toEqual(['instance', 'region', 'role', 'stage']);
    expect(
      [...sampleLabels('# TYPE a counter\na_total{x="1",y="a\\"b,z=\\"c"} 1\na_total{w="2"} 2\nb 3\n').entries()].map(([n, l]) => [
        n,
        [...l].sort(),
      ]),
    ).toEqual([
      ['a_total', ['w', 'x', 'y']],
      ['b', []],
    ]);
  });

  it('are read from exposition text: samples, and the series of every declared family', () => {
    const text = [
      '# HELP h a histogram',
      '# TYPE h histogram',
      'h_bucket{le="1"} 0',
      '# TYPE c_total counter',
      '# TYPE g gauge',
      'g{region="east"} 1',
      'untyped_thing 3',
    ].join('\n');
    expect([...exportedNames(text)].sort()).toEqual(['c_total', 'g', 'h_bucket', 'h_count', 'h_sum', 'untyped_thing']);
  });
});
