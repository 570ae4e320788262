// A chaos run: the whole system (one Temporal server per region), continuous submissions, faults
// from a seeded schedule, then everything healed, drained and checked from the tables.
import { randomBytes } from 'node:crypto';
import type { Pool } from '../../src/db/pool';
import { api, startSystem, stopAndRemove, waitFor, type System } from '../../harness/system';
import { inject, type Injected } from './faults';
import { startLoad } from './load';
import { checkRun, type RunCheck } from './check';
import { FAULT_KINDS, planChaos, type FaultKind } from './schedule';
import { StallWatch, type SourceSample, type Stall } from './stall';
import { Doors } from './doors';
import { checkRuns } from '../../harness/runs';
import { temporalAddresses } from '../../harness/replica';

export interface ChaosOptions {
  databaseUrl: string;
  pool: Pool;
  seed: number;
  durationS: number;
  sources: number;
  meanGapMs: number;
  /** Only these fault kinds (every kind by default). */
  kinds?: readonly FaultKind[];
  /** How long to wait, after healing, for every accepted record to be delivered. */
  drainTimeoutS: number;
  /** Extra environment for the system's processes (the API among them), over CHAOS_ENV: e.g. SWEEPER=off. */
  env?: Record<string, string>;
  /** Stop the system on SIGINT/SIGTERM (when run as a script). */
  handleSignals?: boolean;
  log?: (line: string) => void;
}

export interface ChaosReport extends RunCheck {
  seed: number;
  durationS: number;
  env: Record<string, string>;
  faults: Record<FaultKind, { injected: number; refused: number; failed: number }>;
  /** Submissions that got no answer or a 5xx (the API was down): not counted as accepted. */
  unanswered: number;
  drainS: number;
  /** The reconciler's passes and repairs by kind, over every holder of the control role. */
  reconciler?: { passes: number; repairedTotal: Record<string, number> };
  /** Delivered records whose workflow did not run exactly once at the epoch that delivered them (a second or terminated run). */
  secondRuns: string[];
  /** The longest time, during the run and the drain, that a source with open records finished none. */
  longestStall: Stall;
  events: { atS: number; kind: FaultKind; detail: string }[];
}

// Short timeouts and intervals so that faults are noticed and healed within a short run.
export const CHAOS_ENV = {
  REGION_TOPOLOGY: 'servers',
  ACTIVITY_TIMEOUT_MS: '3000',
  RETRY_MAX_INTERVAL_MS: '2000',
  STAGE_DELAY_MS: '20',
  HEALTH_INTERVAL_MS: '1000',
  FAILOVER_THRESHOLD: '3',
  // Faults come every few seconds: a killed or hung server is failed over from within seconds of the last switch.
  FAILOVER_COOLDOWN_MS: '5000',
  GATE_NUDGE_SECONDS: '5',
  RELAY_INTERVAL_MS: '1000',
  WORKER_RESTART_MAX_MS: '2000',
  // The reconciler at a pace that fits a minute-long run (its defaults are for production).
  RECONCILE_INTERVAL_MS: '3000',
  RECONCILE_STALL_SECONDS: '8',
  RECONCILE_GRACE_SECONDS: '5',
};

// Liveness only: /v1/admin/regions would probe both Temporal servers, one of which may be down.
async function apiUp(sys: System) {
  await waitFor('the API', async () => (await api(`${sys.url}/healthz`, 'GET')).status === 200, 60_000, 250);
}

/** Undo what is still undone, and bring back every process that is not running. */
async function heal(sys: System, pending: Injected[], log: (line: string) => void) {
  for (const p of pending.splice(0)) await p.undo?.().catch((err: Error) => log(`  heal: ${err.message}`));
  await apiUp(sys);
  // start also resumes a server that is still paused.
  for (const region of ['east', 'west']) await api(`${sys.url}/v1/admin/regions/${region}/server/start`, 'POST').catch(() => undefined);
  for (const w of await sys.workers()) {
    if (w.state !== 'running') await api(`${sys.url}/v1/admin/workers/${w.region}/${w.stage}/start`, 'POST').catch(() => undefined);
  }
  const { body } = await api<{ faults: { region: string; stage: string }[] }>(`${sys.url}/v1/admin/faults`, 'GET');
  for (const f of body.faults) await api(`${sys.url}/v1/admin/faults`, 'POST', { region: f.region, stage: f.stage, action: 'recover' });
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const plan = planChaos({ seed: opts.seed, durationMs: opts.durationS * 1000, meanGapMs: opts.meanGapMs, kinds: opts.kinds });
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, { injected: 0, refused: 0, failed: 0 }])) as ChaosReport['faults'];
  const events: ChaosReport['events'] = [];
  const run = randomBytes(2).toString('hex');
  const sources = Array.from({ length: opts.sources }, (_, i) => `chaos-${run}-${i}`);

  const extraEnv = opts.env ?? {};
  const envNote = Object.keys(extraEnv).length
    ? `, with ${Object.entries(extraEnv)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`
    : '';
  log(
    `chaos: seed ${opts.seed}, ${opts.durationS} s, ${plan.length} faults planned, ${opts.sources} sources${envNote}; starting the system`,
  );
  const sys = await startSystem({ databaseUrl: opts.databaseUrl, env: { ...CHAOS_ENV, ...extraEnv } });
  // Two API replicas behind the load: the control role moves between them when its holder is killed or paused.
  const doors = new Doors(sys);
  const interrupted = () => void Promise.all([doors.stop(), sys.stop()]).finally(() => process.exit(130));
  if (opts.handleSignals) for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, interrupted);
  let watch: NodeJS.Timeout | undefined;
  let passed = false;
  try {
    // About 1.5 records/s per source: well under what the pipeline delivers on this machine, so the
    // backlog a fault leaves behind drains within the run.
    await doors.start();
    const load = startLoad(() => doors.urls(), sources, { everyMs: 1300, perBatch: 2 });
    const started = Date.now();
    const stalls = new StallWatch(started);
    watch = setInterval(() => {
      void opts.pool
        .query<SourceSample>(
          `SELECT source_id AS source, count(*) FILTER (WHERE status IN ('delivered', 'skipped'))::int AS done,
                  count(*) FILTER (WHERE status NOT IN ('delivered', 'skipped'))::int AS open
             FROM records WHERE source_id = ANY($1) GROUP BY source_id`,
          [sources],
        )
        .then(({ rows }) => stalls.sample(rows, Date.now()))
        .catch(() => undefined);
    }, 1_000);
    const pending: (Injected & { until: number })[] = [];
    // Undo each fault when its hold time is over.
    let undoing = Promise.resolve();
    const undoTicker = setInterval(() => {
      const due = pending.filter((p) => p.until <= Date.now());
      for (const p of due) pending.splice(pending.indexOf(p), 1);
      undoing = undoing.then(async () => {
        for (const p of due) {
          // The API may be down (restarted by the supervisor): try again a second later.
          await p.undo?.().catch((err: Error) => {
            log(`  undo failed, will retry: ${err.message}`);
            pending.push({ ...p, until: Date.now() + 1_000 });
          });
        }
      });
    }, 250);
    const progress = setInterval(() => {
      void opts.pool
        .query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries WHERE source_id = ANY($1)', [sources])
        .then(({ rows }) => {
          const last = events.at(-1);
          log(
            `[chaos ${Math.round((Date.now() - started) / 1000)}/${opts.durationS}s] accepted ${load.accepted.size}, delivered ${rows[0].n}, faults ${events.length}${last ? ` (last: ${last.detail})` : ''}`,
          );
        })
        .catch(() => undefined);
    }, 5_000);
    try {
      for (const fault of plan) {
        await new Promise((r) => setTimeout(r, Math.max(0, started + fault.atMs - Date.now())));
        const atS = Math.round((Date.now() - started) / 100) / 10;
        try {
          await apiUp(sys);
          const done = await inject(sys, opts.pool, fault, doors);
          faults[fault.kind][done.failed ? 'failed' : done.refused ? 'refused' : 'injected'] += 1;
          events.push({ atS, kind: fault.kind, detail: done.detail });
          log(`  ${atS}s ${done.detail}`);
          if (done.undo) pending.push(Object.assign(done, { until: Date.now() + fault.holdMs }));
        } catch (err) {
          faults[fault.kind].failed += 1;
          events.push({ atS, kind: fault.kind, detail: `failed: ${(err as Error).message}` });
          log(`  ${atS}s ${fault.kind} failed: ${(err as Error).message}`);
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, started + opts.durationS * 1000 - Date.now())));
      log('chaos: healing every fault, stopping submissions, draining');
      clearInterval(undoTicker);
      await undoing;
      await heal(sys, pending, log);
      await doors.heal();
      await load.stop();
    } finally {
      clearInterval(progress);
      clearInterval(undoTicker);
    }
    const drainStart = Date.now();
    await waitFor(
      'every accepted record delivered',
      async () => {
        const { rows } = await opts.pool.query<{ open: number }>(
          `SELECT count(*)::int AS open FROM records WHERE source_id = ANY($1) AND status NOT IN ('delivered', 'skipped')`,
          [sources],
        );
        return rows[0].open === 0;
      },
      opts.drainTimeoutS * 1000,
      1000,
    ).catch((err: Error) => log(`chaos: ${err.message}`));
    clearInterval(watch);
    const drainS = Math.round((Date.now() - drainStart) / 100) / 10;
    const check = await checkRun(opts.pool, sources, load.accepted);
    // Each record's workflow ran once at the epoch that delivered it (visibility lags: wait for the runs to close).
    let runs = await checkRuns(opts.pool, sources, temporalAddresses(sys));
    await waitFor(
      "the delivered records' runs listed as closed",
      async () => (runs = await checkRuns(opts.pool, sources, temporalAddresses(sys))).running === 0,
      60_000,
      2_000,
    ).catch(() => undefined);
    passed = check.ok && runs.offenders.length === 0;
    // What the safety net had to do (the API process now running: a restarted API counts from its start).
    const reconciler = await api<{ passes: number; repairedTotal: Record<string, number> }>(`${sys.url}/v1/admin/reconcile`, 'GET')
      .then((r) => (r.status === 200 ? r.body : undefined))
      .catch(() => undefined);
    return {
      seed: opts.seed,
      durationS: opts.durationS,
      env: extraEnv,
      faults,
      unanswered: load.unanswered,
      drainS,
      longestStall: stalls.longest(),
      events,
      reconciler,
      ...check,
      secondRuns: runs.offenders,
      ok: passed,
    };
  } finally {
    clearInterval(watch);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, interrupted);
    // Like the database (scripts/chaos.ts), the system's folder is kept only when the run failed.
    await doors.stop().catch(() => undefined);
    if (passed) await stopAndRemove(sys);
    else {
      await sys.stop();
      log(`chaos: the system's logs are kept in ${sys.dataDir}/logs`);
    }
  }
}
