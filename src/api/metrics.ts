// Prometheus metrics of the API process (prom-client). Two kinds:
// - events of this process (HTTP requests, submit latency, failovers it ran): counted as they happen;
// - events of the worker processes (deliveries, stage writes, fencing refusals) and pipeline-wide
//   state: read from Postgres when /metrics is scraped. Totals come from the tables (so every API
//   process reports the same, restart-proof values); the latency histograms (stage-latency.ts) tail
//   each stage's watermark, which only moves over committed, gap-free rows, and observe each record
//   once per process, from the moment the process started.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../db/pool';
import type { RegionRouter } from '../control/region-router';
import { reconcilerView } from '../control/reconciler';
import { retentionView } from '../control/retention';
import { oldestRecordSeconds } from '../db/retention';
import type { ControlLease } from '../control/lease';
import { REPAIR_KINDS } from '../contracts/reconcile';
import { controlView } from './control-view';
import { listRegions } from '../db/regions';
import { openWatermarks, relayBacklog, stageLoad } from '../db/stats';
import { fencingRefusals, sourceCounts, totalCounts, type SourceCounts } from '../db/metrics-queries';
import { webhookView } from '../db/webhooks';
import { StageLatencies } from './stage-latency';

const SUBMIT_ROUTE = '/v1/sources/:sourceId/records';

export interface MetricsOptions {
  pool: Pool;
  router: RegionRouter;
  /** This process's control lease (undefined: CONTROL=off). */
  lease: ControlLease | undefined;
  /** Sources get their own label value in order of creation up to this many; the rest are "other". */
  maxSources: number;
  /** Node.js process metrics (`pipeline_api_*`); off only to list the pipeline's own metrics without a process's observers. */
  processMetrics?: boolean;
}

export class PipelineMetrics {
  readonly registry = new Registry();
  private readonly http = new Counter({
    name: 'pipeline_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly submit = new Histogram({
    name: 'pipeline_submit_duration_seconds',
    help: 'POST .../records: time to checkpoint and answer',
    labelNames: ['status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly accepted = this.sourceCounter('pipeline_records_accepted_total', 'records accepted (checkpointed), by source');
  private readonly delivered = this.sourceCounter('pipeline_records_delivered_total', 'records delivered to the destination, by source');
  private readonly skipped = this.sourceCounter(
    'pipeline_records_skipped_total',
    'records skipped by an operator (dead-lettered), by source',
  );
  private readonly blocked = new Gauge({
    name: 'pipeline_records_blocked',
    help: 'records blocked now (rejected by a stage), by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  /** The latency histograms (registered here, between the gauges above and below). */
  private readonly latencies = new StageLatencies(this.registry);
  private readonly inFlight = new Gauge({
    name: 'pipeline_stage_in_flight',
    help: 'records that finished the previous stage and not this one',
    labelNames: ['stage'],
    registers: [this.registry],
  });
  private readonly oldest = new Gauge({
    name: 'pipeline_stage_oldest_waiting_seconds',
    help: 'how long the longest-waiting record at a stage has waited',
    labelNames: ['stage'],
    registers: [this.registry],
  });
  private readonly failovers = new Counter({
    name: 'pipeline_failovers_total',
    help: 'failovers run by this API process',
    registers: [this.registry],
  });
  private readonly epoch = new Gauge({ name: 'pipeline_region_epoch', help: 'the failover epoch', registers: [this.registry] });
  private readonly active = new Gauge({
    name: 'pipeline_region_active',
    help: '1 for the active region',
    labelNames: ['region'],
    registers: [this.registry],
  });
  private readonly fenced = new Counter({
    name: 'pipeline_fencing_refusals_total',
    help: 'stage writes refused because their region or epoch is no longer active',
    labelNames: ['region', 'stage'],
    registers: [this.registry],
  });
  private readonly relay = new Gauge({
    name: 'pipeline_relay_backlog',
    help: 'open records without a workflow in the active epoch (the relay starts them)',
    registers: [this.registry],
  });
  private readonly relayAge = new Gauge({
    name: 'pipeline_relay_backlog_oldest_seconds',
    help: 'age of the oldest record the relay still has to start',
    registers: [this.registry],
  });
  private readonly retainedRemoved = new Counter({
    name: 'pipeline_retention_records_removed_total',
    help: 'finished records removed by retention (RETENTION), with their stage rows and deliveries',
    registers: [this.registry],
  });
  private readonly retainedRows = new Counter({
    name: 'pipeline_retention_rows_removed_total',
    help: 'rows removed by retention: the records and their stage rows and deliveries',
    registers: [this.registry],
  });
  private readonly oldestKept = new Gauge({
    name: 'pipeline_retention_oldest_record_seconds',
    help: 'age of the oldest record kept (what retention bounds)',
    registers: [this.registry],
  });
  private readonly webhookRetrying = new Gauge({
    name: 'pipeline_webhook_records_retrying',
    help: 'records whose webhook calls failed and that try again (their sources wait behind them)',
    registers: [this.registry],
  });
  private readonly webhookRefused = new Gauge({
    name: 'pipeline_webhook_records_refused',
    help: "records blocked by their webhook endpoint's answer (a 4xx other than 408, 410, 429)",
    registers: [this.registry],
  });
  private readonly webhookAttempts = new Gauge({
    name: 'pipeline_webhook_failed_attempts',
    help: 'failed webhook calls of the records still retrying or refused, together',
    registers: [this.registry],
  });
  private readonly webhookDisabled = new Gauge({
    name: 'pipeline_webhook_destinations_disabled',
    help: 'webhook destinations disabled by a 410 Gone (their sources are held until an admin sets them again)',
    registers: [this.registry],
  });
  private readonly repairs = new Counter({
    name: 'pipeline_reconciler_repairs_total',
    help: 'mismatches between Postgres and Temporal the reconciler repaired, by kind (over every holder of the control role)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly controlHeld = new Gauge({
    name: 'pipeline_control_role_held',
    help: '1 while this process holds the control role (the relay, start window, sweeper, reconciler and region router run here)',
    registers: [this.registry],
  });
  private readonly controlHolder = new Gauge({
    name: 'pipeline_control_holder',
    help: '1 for the process that holds the control lease (live), by holder (host:pid)',
    labelNames: ['holder'],
    registers: [this.registry],
  });
  private readonly controlToken = new Gauge({
    name: 'pipeline_control_lease_token',
    help: "the control lease's fencing token: it grows with every new holding (a rising rate: the role moves)",
    registers: [this.registry],
  });
  private readonly stalled = new Gauge({
    name: 'pipeline_reconciler_stalled_sources',
    help: 'sources whose first record in line has not moved for RECONCILE_STALL_SECONDS (last pass)',
    registers: [this.registry],
  });
  private readonly reconcilePass = new Gauge({
    name: 'pipeline_reconciler_pass_duration_seconds',
    help: "the reconciler's last pass",
    registers: [this.registry],
  });
  private readonly reconcileChecked = new Gauge({
    name: 'pipeline_reconciler_checked_records',
    help: 'open records the last pass compared with their workflows',
    registers: [this.registry],
  });
  private failoversSeen = 0;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly opts: MetricsOptions) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'pipeline_api_' });
  }

  private sourceCounter(name: string, help: string): Counter<'source'> {
    return new Counter({ name, help, labelNames: ['source'], registers: [this.registry] });
  }

  /** Counts HTTP answers by route template (bounded), and the submit latency. */
  hook(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const status = String(reply.statusCode);
      this.http.inc({ method: request.method, route, status });
      if (route === SUBMIT_ROUTE && request.method === 'POST') this.submit.observe({ status }, reply.elapsedTime / 1000);
    });
    // Histograms count what is written from now on, not the history.
    app.addHook('onReady', async () => {
      await this.latencies.start(this.opts.pool).catch(() => undefined);
    });
  }

  /** Reads what the workers did from Postgres; one refresh at a time however many scrapes. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const { pool, router, maxSources } = this.opts;
    const [listed, totals, fences, regions, relay, open, reconciler, control, retention, oldest, webhooks] = await Promise.all([
      sourceCounts(pool, maxSources),
      totalCounts(pool),
      fencingRefusals(pool),
      listRegions(pool),
      relayBacklog(pool),
      openWatermarks(pool),
      reconcilerView(pool),
      controlView(pool, this.opts.lease),
      retentionView(pool),
      oldestRecordSeconds(pool),
      webhookView(pool, 0),
    ]);
    // Totals from the tables: reset and set, so a value is exactly what Postgres says.
    for (const c of [this.accepted, this.delivered, this.skipped]) c.reset();
    this.blocked.reset();
    const add = (label: string, row: SourceCounts) => {
      this.accepted.inc({ source: label }, row.accepted);
      this.delivered.inc({ source: label }, row.delivered);
      this.skipped.inc({ source: label }, row.skipped);
      this.blocked.inc({ source: label }, row.blocked);
    };
    // The first sources by creation by name, the rest as one series: the totals minus those.
    for (const row of listed) add(row.source_id, row);
    if (totals.sources > listed.length) {
      const rest = (k: keyof SourceCounts) => totals[k] - listed.reduce((n, row) => n + row[k], 0);
      add('other', { accepted: rest('accepted'), delivered: rest('delivered'), skipped: rest('skipped'), blocked: rest('blocked') });
    }
    this.fenced.reset();
    for (const f of fences) this.fenced.inc({ region: f.region, stage: f.stage }, f.refusals);
    this.active.reset();
    for (const r of regions) this.active.set({ region: r.name }, r.active ? 1 : 0);
    this.epoch.set(regions.find((r) => r.active)?.epoch ?? 0);
    this.failovers.inc(router.failovers - this.failoversSeen);
    this.failoversSeen = router.failovers;
    // Recorded by the role's holder in Postgres: every replica reports the same totals.
    this.repairs.reset();
    for (const kind of REPAIR_KINDS) this.repairs.inc({ kind }, reconciler.repairedTotal[kind] ?? 0);
    this.controlHeld.set(control.self ? 1 : 0);
    this.controlHolder.reset();
    if (control.holder && control.live) this.controlHolder.set({ holder: control.holder }, 1);
    this.controlToken.set(control.token);
    this.stalled.set(reconciler.last?.stalled.length ?? 0);
    this.reconcilePass.set((reconciler.last?.durationMs ?? 0) / 1000);
    this.reconcileChecked.set(reconciler.last?.checked ?? 0);
    this.relay.set(relay.count);
    this.relayAge.set(relay.oldestSeconds ?? 0);
    this.retainedRemoved.reset();
    this.retainedRemoved.inc(retention.recordsRemoved);
    this.retainedRows.reset();
    this.retainedRows.inc(retention.rowsRemoved);
    this.oldestKept.set(oldest ?? 0);
    this.webhookRetrying.set(webhooks.retrying);
    this.webhookRefused.set(webhooks.refused);
    this.webhookAttempts.set(webhooks.failedAttempts);
    this.webhookDisabled.set(webhooks.disabledTotal);
    for (const s of await stageLoad(pool, open)) {
      this.inFlight.set({ stage: s.stage }, s.inFlight);
      this.oldest.set({ stage: s.stage }, s.oldestWaitingSeconds ?? 0);
    }
    await this.latencies.observe(pool);
  }

  async text(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }
}
