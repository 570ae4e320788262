// The metric names the Grafana dashboard's queries use, and the names a Prometheus scrape exports:
// what `npm run compose:check` and the observability e2e test compare. Queries are parsed with the
// Prometheus project's own PromQL grammar, so a name is a metric selector, never a function,
// label or keyword that happens to look like one.
import fs from 'node:fs';
import path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';

export const DASHBOARD_FILE = path.join('observability', 'grafana', 'dashboards', 'pipeline.json');

export interface DashboardQuery {
  panel: string;
  expr: string;
  legendFormat?: string;
}

interface Panel {
  title?: string;
  panels?: Panel[];
  targets?: { expr?: string; legendFormat?: string }[];
}

export function readDashboard(root: string): { uid: string; panels: Panel[] } {
  return JSON.parse(fs.readFileSync(path.join(root, DASHBOARD_FILE), 'utf8')) as { uid: string; panels: Panel[] };
}

/** Every query of every panel, rows' nested panels included. */
export function dashboardQueries(dashboard: { panels?: Panel[] }): DashboardQuery[] {
  const walk = (panels: Panel[] = []): DashboardQuery[] =>
    panels.flatMap((p) => [
      ...(p.targets ?? [])
        .filter((t) => t.expr)
        .map((t) => ({ panel: p.title ?? '(untitled)', expr: t.expr!, legendFormat: t.legendFormat })),
      ...walk(p.panels),
    ]);
  return walk(dashboard.panels);
}

// Grafana replaces its range variables before Prometheus sees the query.
const GRAFANA_RANGES = /\$(?:__rate_interval|__interval|__range)(?:_ms|_s)?\b|\$\{(?:__rate_interval|__interval|__range)\}/g;

/** The metric names a PromQL query selects; throws when Prometheus could not parse it. */
export function metricNames(expr: string): string[] {
  return parseQuery(expr).names;
}

/** The label names a query and its legend use: matchers, grouping, matching, `{{label}}`. */
export function queryLabels(q: { expr: string; legendFormat?: string }): string[] {
  const legend = [...(q.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
  return [...new Set([...parseQuery(q.expr).labels, ...legend])];
}

function parseQuery(expr: string): { names: string[]; labels: string[] } {
  const query = expr.replace(GRAFANA_RANGES, '5m');
  const tree = parser.parse(query);
  const names = new Set<string>();
  const labels = new Set<string>();
  const errors: number[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'LabelName' && query.slice(node.from, node.to) !== '__name__') labels.add(query.slice(node.from, node.to));
      if (node.name === 'VectorSelector') {
        const first = node.node.firstChild;
        if (first?.name === 'Identifier') names.add(query.slice(first.from, first.to));
      }
      // {__name__="x"}: the other way to name a metric.
      if (node.name === 'UnquotedLabelMatcher') {
        const label = node.node.getChild('LabelName');
        const op = node.node.getChild('MatchOp');
        const value = node.node.getChild('StringLiteral');
        if (label && query.slice(label.from, label.to) === '__name__') {
          if (op && value && query.slice(op.from, op.to) === '=') names.add(JSON.parse(query.slice(value.from, value.to)) as string);
          else errors.push(label.from);
        }
      }
    },
  });
  if (errors.length) throw new Error(`not PromQL at offset ${errors[0]}: ${expr}`);
  return { names: [...names], labels: [...labels] };
}

/** Every metric name a panel queries, with the panels that use it. */
export function dashboardMetricNames(dashboard: { panels?: Panel[] }): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const q of dashboardQueries(dashboard))
    for (const name of metricNames(q.expr)) out.set(name, [...new Set([...(out.get(name) ?? []), q.panel])]);
  return out;
}

const SERIES_SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** The series names a family of this type exports (a histogram x: x_bucket, x_sum, x_count). */
export function seriesNames(family: string, type: string): string[] {
  return (SERIES_SUFFIXES[type] ?? ['']).map((s) => family + s);
}

/**
 * The metric names in Prometheus exposition text: every sample's name, and the series of every
 * declared family (a labelled counter with no event yet has `# TYPE` but no sample).
 */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) seriesNames(type[1], type[2]).forEach((n) => names.add(n));
    else if (/^[a-zA-Z_:]/.test(line)) names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}

/** Per metric name in exposition text, the label names its samples carry. */
export function sampleLabels(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!m) continue;
    const labels = out.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]);
    out.set(m[1], labels);
  }
  return out;
}

/**
 * The families the workers export on their metrics ports once records went through, with their
 * types: the Temporal SDK's (as SDK 1.24 names them with `countersTotalSuffix` and
 * `useSecondsForDurations`, read from a live scrape) and the worker's start time. The observability
 * e2e test checks each against live workers. Left out: the empty-poll counters, which appear only
 * once a long poll has timed out.
 */
export const WORKER_FAMILIES: Record<string, string> = {
  pipeline_worker_start_time_seconds: 'gauge',
  temporal_activity_execution_latency: 'histogram',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_activity_succeed_endtoend_latency: 'histogram',
  temporal_activity_task_received_total: 'counter',
  temporal_long_request_latency: 'histogram',
  temporal_long_request_total: 'counter',
  temporal_num_pollers: 'gauge',
  temporal_request_latency: 'histogram',
  temporal_request_total: 'counter',
  temporal_sticky_cache_hit_total: 'counter',
  temporal_sticky_cache_size: 'gauge',
  temporal_worker_start_total: 'counter',
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_workflow_completed_total: 'counter',
  temporal_workflow_endtoend_latency: 'histogram',
  temporal_workflow_task_execution_latency: 'histogram',
  temporal_workflow_task_queue_poll_succeed_total: 'counter',
  temporal_workflow_task_replay_latency: 'histogram',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
};
