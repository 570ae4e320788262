// The backlog: sources x records submitted at once, drained while the bench looks every second at
// deliveries, open record workflows in Temporal, records waiting in Postgres for their start window,
// and CPU. Optionally the Temporal dev server is SIGKILLed half way (the supervisor restarts it on
// its own, on the same SQLite file); then every record must still be delivered once and in order.
import { verifyInvariants, violations } from '../../src/db/verify';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId, STAGES } from '../../src/contracts/names';
import { cpuSnapshot, cpuUsed, temporalPids, type CpuSnapshot } from './cpu';
import { api } from '../../harness/system';
import { loadConfig } from '../../src/config';
import { deliveredCount, sourceIds, submitBulk, type Bench } from './pipeline';
import { intervals, steadiness, type IntervalRow, type Sample, type Steadiness, type TripStep } from './stats';

export interface Kill {
  atS: number;
  deliveredBefore: number;
  /** When the supervisor's new server process was seen. */
  restartedAtS: number | null;
  /** The longest time without a delivery after the kill, and when deliveries resumed. */
  gapS: number;
  resumedAtS: number;
  beforePerS: number;
  /** From the kill to the end, the outage included. */
  afterPerS: number;
  /** From the resumption to the end. */
  afterResumePerS: number;
  /** The restarted server still knows a workflow that completed before the kill (its SQLite state survived). */
  historySurvived: boolean;
  /** Repairs the API's reconciler made during the run (0: Temporal's own state carried the drain on). */
  reconcilerRepairs: number;
}

export interface Backlog {
  records: number;
  seconds: number;
  perS: number;
  firstDeliveryS: number;
  /** The first delivered record's trip: accepted, started, each stage's commit, from the run's start. */
  firstTrip: { record: string; steps: TripStep[] };
  /** The longest time without a delivery, outside a kill's outage. */
  longestPauseS: number;
  rows: IntervalRow[];
  steady: Steadiness;
  peakOpen: number | null;
  /** The most records of one source started and not finished at once (from Postgres, every second). */
  peakOpenPerSource: number;
  /** Of those, the most not yet past inbound: what the start window bounds. */
  peakAheadPerSource: number;
  /** The system's START_WINDOW: what peakAheadPerSource may reach. */
  startWindow: number;
  peakWaiting: number;
  temporalCpuPerRecord: number;
  projectCpuPerRecord: number;
  kill: Kill | null;
  activeRegion: string;
  violations: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reconcilerRepairs(b: Bench): Promise<number> {
  const res = await api<{ repairedTotal: Record<string, number> }>(`${b.sys.url}/v1/admin/reconcile`, 'GET');
  return Object.values(res.body.repairedTotal).reduce((a, n) => a + n, 0);
}

/** The first delivered record's steps, seconds from `since`: accepted, started (its workflow's start recorded), each stage's commit. */
async function firstTrip(b: Bench, ids: string[], since: Date): Promise<Backlog['firstTrip']> {
  const at = (col: string) => `extract(epoch FROM ${col} - $2::timestamptz)::float8`;
  const { rows } = await b.pool.query<Record<string, number | string>>(
    `SELECT d.source_id, d.seq, ${at('r.accepted_at')} AS accepted, ${at('r.started_at')} AS started,
       ${STAGES.map((s) => `(SELECT ${at('written_at')} FROM stage_${s} t WHERE t.source_id = d.source_id AND t.seq = d.seq) AS ${s}`).join(', ')}
     FROM deliveries d JOIN records r USING (source_id, seq)
     WHERE d.source_id = ANY($1) ORDER BY d.delivered_at LIMIT 1`,
    [ids, since],
  );
  const row = rows[0];
  if (!row) return { record: '-', steps: [] };
  // started_at is the last start's (a restart after the kill moves it): shown as found.
  const steps = ['accepted', 'started', ...STAGES].filter((step) => row[step] !== null).map((step) => ({ step, atS: Number(row[step]) }));
  return { record: `${row.source_id} #${row.seq}`, steps };
}

/** Whether Temporal still has the workflow of the sources' first delivered record. */
async function firstWorkflowKnown(b: Bench, ids: string[]): Promise<boolean> {
  const { rows } = await b.pool.query<{ source_id: string; seq: number }>(
    'SELECT source_id, seq FROM deliveries WHERE source_id = ANY($1) ORDER BY id LIMIT 1',
    [ids],
  );
  try {
    const d = await b.client.workflow.getHandle(recordWorkflowId(rows[0].source_id, Number(rows[0].seq))).describe();
    return d.status.name === 'COMPLETED';
  } catch {
    return false;
  }
}

export async function runBacklog(
  b: Bench,
  opts: { sources: number; perSource: number; intervalS: number; kill: boolean },
): Promise<Backlog> {
  const label = opts.kill ? 'backlog-kill' : 'backlog';
  const ids = sourceIds(label, opts.sources);
  const total = opts.sources * opts.perSource;
  const started = Date.now();
  const startedAt = new Date(started);
  const since = () => (Date.now() - started) / 1000;
  const samples: Sample[] = [];
  // Set by the sampler when it kills the server (an object, so that TypeScript sees it change).
  const killed: { at: Pick<Kill, 'atS' | 'deliveredBefore' | 'restartedAtS'> | null; pid: number } = { at: null, pid: 0 };
  let prevCpu: CpuSnapshot | undefined;
  let cpu = { temporal: 0, project: 0 };
  let done = false;
  let peakOpenPerSource = 0;
  let peakAheadPerSource = 0;
  const repairsBefore = await reconcilerRepairs(b);

  const openWorkflows = async () => {
    const list = ids.map((s) => `'${s}'`).join(', ');
    const query = `WorkflowType = '${RECORD_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND SourceId IN (${list})`;
    try {
      return (await b.client.connection.withDeadline(Date.now() + 2000, () => b.client.workflow.count(query))).count;
    } catch {
      return null; // the server is down or slow: a gap in the column, not a failure
    }
  };
  const sample = async () => {
    const t = since();
    const delivered = await deliveredCount(b.pool, ids);
    // Waiting: never started (epoch NULL; only open records are in records_open_epoch). Per source:
    // open (started, not finished), and of those the ones not yet past inbound, which the start
    // window bounds (the rest are in later stages). Both read through records_open_epoch, so a
    // look costs the started records and an index count of the waiting, not a pass over each.
    const { rows } = await b.pool.query<{ waiting: number; open_max: number; ahead_max: number }>(
      `SELECT (SELECT count(*) FROM records WHERE epoch IS NULL AND status IN ('accepted', 'processing', 'blocked')
                  AND source_id = ANY($1))::int AS waiting,
              coalesce(max(open), 0)::int AS open_max, coalesce(max(ahead), 0)::int AS ahead_max
         FROM (SELECT count(*) AS open, count(*) FILTER (WHERE r.seq > coalesce(w.watermark, 0)) AS ahead
                 FROM records r LEFT JOIN watermarks w ON w.source_id = r.source_id AND w.stage = 'inbound'
                WHERE r.source_id = ANY($1) AND r.epoch IS NOT NULL AND r.status IN ('processing', 'blocked')
                GROUP BY r.source_id) per_source`,
      [ids],
    );
    peakOpenPerSource = Math.max(peakOpenPerSource, rows[0].open_max);
    peakAheadPerSource = Math.max(peakAheadPerSource, rows[0].ahead_max);
    try {
      const snap = await cpuSnapshot(b.sys, b.pool, b.dbName);
      if (prevCpu) {
        const used = cpuUsed(prevCpu, snap);
        cpu = { temporal: cpu.temporal + used.temporal, project: cpu.project + used.project + used.postgres };
      }
      prevCpu = snap;
    } catch {
      // the API did not answer (its region probe may wait on a dead server): CPU counted at the next look
    }
    samples.push({
      t,
      delivered,
      waiting: rows[0].waiting,
      // A visibility count costs the Temporal server more the more workflows it keeps: once an interval.
      openWorkflows: samples.length % opts.intervalS === 0 ? await openWorkflows() : null,
      temporalCpuS: cpu.temporal,
      projectCpuS: cpu.project,
    });
    process.stdout.write(`\r  ${label}: ${delivered}/${total} delivered, ${t.toFixed(0)} s   `);
    const kill = killed.at;
    if (opts.kill && !kill && delivered >= total / 2) {
      const [pid] = await temporalPids(b.sys);
      if (!pid) throw new Error('no Temporal dev server run by the supervisor to kill');
      process.kill(pid, 'SIGKILL');
      killed.pid = pid;
      killed.at = { atS: since(), deliveredBefore: delivered, restartedAtS: null };
      process.stdout.write(`\n  SIGKILL the Temporal dev server (pid ${pid}) at ${killed.at.atS.toFixed(1)} s, ${delivered} delivered\n`);
    } else if (kill && kill.restartedAtS === null) {
      const pids = await temporalPids(b.sys).catch(() => []);
      if (pids.some((p) => p !== killed.pid)) kill.restartedAtS = since();
    }
    return delivered;
  };

  const sampler = (async () => {
    while (!done) {
      const t0 = Date.now();
      if ((await sample()) === total) return;
      if (Date.now() - started > b.timeoutMs) throw new Error(`backlog not drained within ${b.timeoutMs / 1000} s`);
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
  })();
  sampler.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  try {
    await submitBulk(b, ids, opts.perSource);
    await sampler;
  } finally {
    done = true;
  }
  process.stdout.write('\n');

  // Deliveries in time order, seconds from the start: the first, the last, and the pauses between them.
  const { rows: times } = await b.pool.query<{ t: number }>(
    `SELECT extract(epoch FROM delivered_at - $2::timestamptz)::float8 AS t FROM deliveries WHERE source_id = ANY($1) ORDER BY delivered_at`,
    [ids, startedAt],
  );
  const ts = times.map((r) => Number(r.t));
  const pauses = ts.slice(1).map((t, i) => ({ from: ts[i], to: t, s: t - ts[i] }));
  const rows = intervals(samples, opts.intervalS);
  const seconds = ts[ts.length - 1];
  let k: Kill | null = null;
  if (killed.at) {
    const { atS, deliveredBefore } = killed.at;
    // The outage: the longest pause around the kill and the restart (not a later one of the drain).
    const windowEnd = (killed.at.restartedAtS ?? atS) + 10;
    const outage = pauses
      .filter((p) => p.to > atS && p.from < windowEnd)
      .reduce((a, p) => (p.s > a.s ? p : a), { from: atS, to: atS, s: 0 });
    const after = total - deliveredBefore;
    k = {
      ...killed.at,
      gapS: outage.s,
      resumedAtS: outage.to,
      beforePerS: deliveredBefore / atS,
      afterPerS: after / (seconds - atS),
      afterResumePerS: ts.filter((t) => t >= outage.to).length / Math.max(seconds - outage.to, 1e-9),
      historySurvived: await firstWorkflowKnown(b, ids),
      reconcilerRepairs: (await reconcilerRepairs(b)) - repairsBefore,
    };
  }
  const inOutage = (r: IntervalRow) => k !== null && r.toS > k.atS && r.fromS < k.resumedAtS;
  const opens = samples.map((s) => s.openWorkflows).filter((n): n is number => n !== null);
  const report = await verifyInvariants(b.pool, { sources: ids, expectDrained: true });
  const regions = await api<{ active: string; epoch: number }>(`${b.sys.url}/v1/admin/regions`, 'GET');
  return {
    records: total,
    seconds,
    perS: total / seconds,
    firstDeliveryS: ts[0],
    firstTrip: await firstTrip(b, ids, startedAt),
    longestPauseS: Math.max(0, ...pauses.filter((p) => !k || p.to <= k.atS || p.from >= k.resumedAtS).map((p) => p.s)),
    rows,
    steady: steadiness(rows, inOutage, ts[0]),
    peakOpen: opens.length ? Math.max(...opens) : null,
    peakOpenPerSource,
    peakAheadPerSource,
    startWindow: loadConfig(b.sys.env).START_WINDOW,
    peakWaiting: Math.max(...samples.map((s) => s.waiting)),
    temporalCpuPerRecord: cpu.temporal / total,
    projectCpuPerRecord: cpu.project / total,
    kill: k,
    activeRegion: `${regions.body.active} (epoch ${regions.body.epoch})`,
    violations: [...violations(report), ...(ts.length === total ? [] : [`${ts.length} deliveries of ${total} records`])],
  };
}
