// The operators' view of the whole system as `npm start` runs it: readiness with every check,
// stats with pollers on every queue, API metrics, each worker's SDK metrics on its own port, and
// every metric the Grafana dashboard queries exported by the running system.
import fs from 'node:fs';
import path from 'node:path';
import { ALL_TASK_QUEUES } from '../../src/contracts/names';
import {
  WORKER_FAMILIES,
  dashboardMetricNames,
  dashboardQueries,
  exportedNames,
  metricNames,
  queryLabels,
  readDashboard,
  sampleLabels,
  seriesNames,
} from '../../scripts/dashboard-metrics';
import { createTestDb, type TestDb } from '../helpers/db';
import { api, freePortRange, startSystem, submit, waitFor, stopAndRemove, type System } from '../helpers/system';
import { deliveredCount, randomBatch, uniqueSource } from '../helpers/records';

jest.setTimeout(300_000);

let db: TestDb;
let sys: System;
let metricsBase: number;
let startedAt: number;

beforeAll(async () => {
  startedAt = Date.now() / 1000;
  db = await createTestDb('e2e_observability');
  metricsBase = await freePortRange(12);
  sys = await startSystem({ databaseUrl: db.url, env: { METRICS_PORT_BASE: String(metricsBase), STAGE_DELAY_MS: '10' } });
});
afterAll(async () => {
  if (sys) await stopAndRemove(sys);
  await db?.drop();
});

interface Queue {
  name: string;
  pollers: number;
  backlogCount: number | null;
}

it('is ready with every check, shows pollers on every queue, and exports API and worker metrics', async () => {
  const ready = await waitFor('ready', async () => {
    const r = await api<{ status: string; checks: { name: string; ok: boolean; latencyMs: number }[] }>(`${sys.url}/readyz`, 'GET');
    return r.status === 200 && r.body.status === 'ready' ? r.body : undefined;
  });
  expect(ready.checks.map((c) => c.name)).toEqual(['postgres', 'temporal:east', ...ALL_TASK_QUEUES.map((q) => `pollers:${q}`)]);
  expect(ready.checks.every((c) => c.ok && c.latencyMs >= 0)).toBe(true);
  expect((await api(`${sys.url}/healthz`, 'GET')).status).toBe(200);

  const source = uniqueSource('obs');
  expect((await submit(sys.url, source, randomBatch('b', 10))).status).toBe(202);
  await waitFor('10 deliveries', async () => (await deliveredCount(db.pool, [source])) === 10, 120_000);

  const stats = await api<{
    regions: { name: string; reachable: boolean; queues: Queue[] }[];
    totals: { accepted: number; delivered: number };
    sources: { sourceId: string; watermarks: { delivered: number } }[];
  }>(`${sys.url}/v1/stats`, 'GET');
  expect(stats.status).toBe(200);
  for (const region of stats.body.regions) {
    expect({ region: region.name, reachable: region.reachable, queues: region.queues.map((q) => q.name).sort() }).toEqual({
      region: region.name,
      reachable: true,
      queues: [...ALL_TASK_QUEUES].sort(),
    });
    for (const q of region.queues)
      expect({ region: region.name, queue: q.name, live: q.pollers >= 1 }).toEqual({ region: region.name, queue: q.name, live: true });
  }
  expect(stats.body.totals).toMatchObject({ accepted: 10, delivered: 10 });
  expect(stats.body.sources.find((s) => s.sourceId === source)?.watermarks.delivered).toBe(10);

  const metrics = await (await fetch(`${sys.url}/metrics`)).text();
  for (const name of [
    'pipeline_http_requests_total',
    'pipeline_submit_duration_seconds_bucket',
    'pipeline_records_accepted_total',
    'pipeline_records_delivered_total',
    'pipeline_records_skipped_total',
    'pipeline_records_blocked',
    'pipeline_accept_to_delivered_seconds_bucket',
    'pipeline_stage_latency_seconds_bucket',
    'pipeline_failovers_total',
    'pipeline_fencing_refusals_total',
    'pipeline_relay_backlog',
  ]) {
    expect({ name, present: new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm').test(metrics) }).toEqual({ name, present: true });
  }
  expect(metrics).toContain(`pipeline_records_delivered_total{source="${source}"} 10`);
  expect(metrics).toMatch(/^pipeline_accept_to_delivered_seconds_count 10$/m);

  // Every worker has its own SDK metrics port; the east core worker's answers with its stage's activity metrics.
  const workers = await sys.workers();
  const ports = workers.map((w) => w.metricsPort);
  expect(new Set(ports).size).toBe(12);
  expect(Math.min(...(ports as number[]))).toBe(metricsBase);
  const core = workers.find((w) => w.region === 'east' && w.stage === 'core')!;
  const sdk = await (await fetch(`http://127.0.0.1:${core.metricsPort}/metrics`)).text();
  expect(sdk).toMatch(/^temporal_activity_execution_latency\w*_count\{.*activity_type="core".*\} 1\d*/m);
  expect(sdk).toMatch(/region="east"/);

  // Worker logs are JSON lines with the same field names.
  const log = fs
    .readFileSync(path.join(sys.dataDir, 'logs', 'worker-east-core.log'), 'utf8')
    .trim()
    .split('\n');
  const entries = log.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  expect(entries.length).toBeGreaterThan(0);
  expect(entries.every((e) => e.region === 'east' && e.role === 'core')).toBe(true);
});

it('exports every metric the Grafana dashboard queries, and each worker its start time, which a restart changes', async () => {
  // The dashboard's metrics exist once records have gone through (the test above submitted some).
  const source = uniqueSource('dash');
  expect((await submit(sys.url, source, randomBatch('d', 5))).status).toBe(202);
  await waitFor('5 deliveries', async () => (await deliveredCount(db.pool, [source])) === 5, 120_000);

  const scrape = async (url: string) => {
    const r = await fetch(url);
    expect({ url, status: r.status }).toEqual({ url, status: 200 });
    return r.text();
  };
  const workers = await sys.workers();
  const workerTexts = await Promise.all(workers.map((w) => scrape(`http://127.0.0.1:${w.metricsPort}/metrics`)));
  const workerNames = new Set(workerTexts.flatMap((t) => [...exportedNames(t)]));
  const apiText = await scrape(`${sys.url}/metrics`);
  const exported = new Set([...exportedNames(apiText), ...workerNames]);

  const dashboard = readDashboard(path.resolve(__dirname, '..', '..'));
  const queried = dashboardMetricNames(dashboard);
  expect(queried.size).toBeGreaterThan(15);
  const missing = [...queried].filter(([name]) => !exported.has(name)).map(([name, panels]) => `${name} (${panels.join(', ')})`);
  expect(missing).toEqual([]);

  // Every label a query groups by, matches or shows in its legend is on the samples of its metrics,
  // or is one Prometheus adds to every target. A metric without samples yet (no fencing refusal
  // here) cannot tell, so its queries are left out.
  const labelsOf = new Map<string, Set<string>>();
  for (const text of [apiText, ...workerTexts])
    for (const [name, labels] of sampleLabels(text)) labelsOf.set(name, new Set([...(labelsOf.get(name) ?? []), ...labels]));
  const unknownLabels = dashboardQueries(dashboard).flatMap((q) => {
    const sampled = metricNames(q.expr).filter((n) => labelsOf.has(n));
    if (!sampled.length) return [];
    const have = new Set(['instance', 'job', ...sampled.flatMap((n) => [...labelsOf.get(n)!])]);
    return queryLabels(q)
      .filter((l) => !have.has(l))
      .map((l) => `${q.panel}: ${l} in ${q.expr}`);
  });
  expect(unknownLabels).toEqual([]);
  // compose:check checks the dashboard against this list statically: it must be what workers export.
  const unseen = Object.entries(WORKER_FAMILIES)
    .flatMap(([name, type]) => seriesNames(name, type))
    .filter((n) => !workerNames.has(n));
  expect(unseen).toEqual([]);

  // Each worker exports when its process started; a restart by the supervisor changes it.
  const startOf = (text: string) => Number(/^pipeline_worker_start_time_seconds\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
  const now = Date.now() / 1000;
  for (const [i, w] of workers.entries()) {
    const started = startOf(workerTexts[i]);
    expect({ worker: `${w.region}/${w.stage}`, plausible: started >= startedAt && started <= now }).toEqual({
      worker: `${w.region}/${w.stage}`,
      plausible: true,
    });
  }
  const core = workers.find((w) => w.region === 'west' && w.stage === 'core')!;
  const before = startOf(workerTexts[workers.indexOf(core)]);
  process.kill(core.pid!, 'SIGKILL');
  const after = await waitFor(
    'west/core restarted with its metrics',
    async () => {
      const now = (await sys.workers()).find((w) => w.region === 'west' && w.stage === 'core')!;
      if (now.pid === core.pid || now.restarts !== core.restarts + 1) return undefined;
      return fetch(`http://127.0.0.1:${core.metricsPort}/metrics`)
        .then((r) => (r.ok ? r.text() : undefined))
        .then((t) => (t ? startOf(t) : undefined))
        .catch(() => undefined);
    },
    60_000,
  );
  expect(after).toBeGreaterThan(before);
});
