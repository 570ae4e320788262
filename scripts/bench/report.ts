// What npm run bench prints at the end: the runs, the scenarios, and the targets, each beside its
// figure.
import type { Backlog } from './backlog';
import type { CpuUse } from './cpu';
import type { BusySubmitTimes, Sustained, SubmitTimes } from './load';
import type { RunResult } from './pipeline';
import { STAGES } from '../../src/contracts/names';
import { cpuCeiling, targetTable, tripFigure, within, type Target } from './stats';

export type Measured = RunResult & { cpu: CpuUse };

export interface Results {
  sources: number;
  many: Measured;
  hot: Measured;
  /** perS: the mean of the runs around the pipeline's; cpu: per run, of the bare worker and the server. */
  bare: { count: number; perS: number; runs: number[]; cpu: { worker: number; temporal: number } };
  /** The 10-source runs, each against the mean of the bare runs before and after it; `many` is the median one. */
  paired: { manyPerS: number[]; ratios: number[]; median: number };
  /** The hot-source runs, each against the 10-source run of its own round; `hot` is the median one. */
  hotPaired: { hotPerS: number[]; ratios: number[]; median: number };
  /** The hot source with a webhook destination on loopback, each run against the table destination's hot run of its round. */
  webhook: { run: Measured; hookPerS: number[]; ratios: number[]; median: number; calls: number } | null;
  idle: { count: number; p50: number; bareP50: number };
  submits: BusySubmitTimes | null;
  sustained: (Sustained & { share: number; seconds: number }) | null;
  backlog: Backlog | null;
  backlogKill: Backlog | null;
  backlogShape: string;
  /** The backlog's interval width, seconds. */
  intervalS: number;
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

/** What the CPU of a run and of the bare runs allows of delivered/s vs bare on a saturated host. */
const ceiling = (r: Results, x: Measured) =>
  cpuCeiling((x.cpu.project + x.cpu.postgres + x.cpu.temporal) / x.records, (r.bare.cpu.worker + r.bare.cpu.temporal) / r.bare.count);

function runsTable(r: Results): string[] {
  const row = (name: string, x: RunResult) =>
    `| ${name} | ${x.records} | ${f(x.acceptedPerS, 0)} | ${f(x.deliveredPerS)} | ${f(x.p50, 2)} | ${f(x.p95, 2)} | ${f(x.p99, 2)} | ${f(x.actions.total)} (${f(x.actions.activityAttempts)} activity attempts, ${f(x.actions.signals)} signals, ${f(x.actions.timers)} timers, ${f(x.actions.upserts)} upserts) |`;
  const cpuRow = (name: string, x: Measured) =>
    `| ${name} | ${f(x.cpu.project / x.records, 4)} | ${f(x.cpu.postgres / x.records, 4)} | ${f((x.cpu.project + x.cpu.postgres) / x.records, 4)} | ${f(x.cpu.temporal / x.records, 4)} |`;
  return [
    '| run | records | accepted/s | delivered/s | p50 s | p95 s | p99 s | actions per record |',
    '|---|---|---|---|---|---|---|---|',
    row(`${r.sources} sources (the median of ${r.paired.manyPerS.length}: ${r.paired.manyPerS.map((x) => f(x)).join(', ')}/s)`, r.many),
    row(
      `1 hot source (the median of ${r.hotPaired.hotPerS.length} against their rounds' ${r.sources}-source runs: ${r.hotPaired.hotPerS.map((x) => f(x)).join(', ')}/s)`,
      r.hot,
    ),
    ...(r.webhook
      ? [
          row(
            `1 hot source, webhook destination on loopback (the median of ${r.webhook.hookPerS.length} against their rounds' hot runs: ${r.webhook.hookPerS.map((x) => f(x)).join(', ')}/s; ${r.webhook.calls} calls received)`,
            r.webhook.run,
          ),
        ]
      : []),
    `| bare Temporal (one worker process, own task queue, 5 empty activities; before, between and after the ${r.sources}-source runs) | ${r.bare.count} | | ${f(r.bare.perS)} (${r.bare.runs.map((x) => f(x)).join(', ')}) | | | | 6 (start + 5 activities) |`,
    '',
    `hand-offs: the next record was already waiting at ${STAGES.map((s) => `${s} ${f(r.many.successorWaiting[s] * 100, 0)} %`).join(', ')} of the stage writes (${r.sources} sources; 1 hot source: ${STAGES.map((s) => f(r.hot.successorWaiting[s] * 100, 0)).join(', ')} %): only those writes' NOTIFY wakes a worker`,
    '',
    `idle latency, accept -> delivered p50 (${r.idle.count} lone records): ${f(r.idle.p50 * 1000, 0)} ms; bare Temporal five-activity workflow p50 (${r.idle.count} lone, start -> result): ${f(r.idle.bareP50 * 1000, 0)} ms`,
    '',
    'CPU seconds per record (from /proc, utime + stime):',
    '| run | project (API, supervisor, workers) | Postgres backends | project + Postgres | Temporal server |',
    '|---|---|---|---|---|',
    cpuRow(`${r.sources} sources`, r.many),
    cpuRow('1 hot source', r.hot),
    ...(r.webhook ? [cpuRow('1 hot source, webhook', r.webhook.run)] : []),
    `| bare Temporal | ${f(r.bare.cpu.worker / r.bare.count, 4)} (its worker) | | ${f(r.bare.cpu.worker / r.bare.count, 4)} | ${f(r.bare.cpu.temporal / r.bare.count, 4)} |`,
    '',
    `On two cores kept busy, these costs allow ${f(ceiling(r, r.many), 2)} x bare Temporal's rate (${r.sources} sources) and ${f(ceiling(r, r.hot), 2)} x (1 hot source): bare's CPU per workflow, worker and server, over the pipeline's per record, its processes, Postgres and the server.`,
  ];
}

const submitFigure = (s: SubmitTimes) => `p50 ${f(s.p50, 1)} ms, p99 ${f(s.p99, 1)} ms, max ${f(s.max, 1)} ms`;

const steadyFigure = (x: Backlog) =>
  x.steady.medianPerS > 0
    ? `first interval ${f(x.steady.firstVsMedian, 2)} x the median rate (${f(x.steady.medianPerS)}/s)${
        x.steady.firstFromDeliveryVsMedian === null
          ? ''
          : ` (${f(x.steady.firstFromDeliveryVsMedian, 2)} x counted from the first delivery)`
      }, slowest ${f(x.steady.minVsMedian, 2)} x`
    : 'too few intervals to judge (a larger --backlog or a shorter --interval-s)';

const evenFigure = (x: Backlog) =>
  `${x.steady.laterWithin20} of ${x.steady.laterIntervals} intervals after the first within 20 % of the median (${f(x.steady.medianPerS)}/s); slowest ${f(x.steady.minVsMedian, 2)} x, fastest ${f(x.steady.maxVsMedian, 2)} x`;

function backlogLines(name: string, x: Backlog): string[] {
  const k = x.kill;
  return [
    `${name}: ${x.records} records in ${f(x.seconds)} s = ${f(x.perS)}/s; first delivery after ${f(x.firstDeliveryS, 2)} s; longest pause between deliveries ${f(x.longestPauseS, 2)} s${k ? ' (outside the outage)' : ''}`,
    `  the first delivered record (${x.firstTrip.record}): ${tripFigure(x.firstTrip.steps)}`,
    `  steady: ${steadyFigure(x)}${k ? ' (intervals of the outage left out)' : ''}; at most ${x.peakOpen ?? '-'} record workflows open, at most ${x.peakOpenPerSource} of one source, of which at most ${x.peakAheadPerSource} not yet past inbound (the start window: ${x.startWindow}), up to ${x.peakWaiting} records waiting in Postgres for their start window`,
    `  CPU s per record: Temporal server ${f(x.temporalCpuPerRecord, 4)}, project + Postgres ${f(x.projectCpuPerRecord, 4)}; active region after: ${x.activeRegion}; invariants: ${x.violations.length ? x.violations.join('; ') : 'every record delivered once, in order, nothing open'}`,
    ...(k
      ? [
          `  SIGKILL at ${f(k.atS)} s (${k.deliveredBefore} delivered); new server process seen at ${k.restartedAtS === null ? '-' : `${f(k.restartedAtS)} s`}; deliveries paused ${f(k.gapS, 1)} s, resumed at ${f(k.resumedAtS)} s; rate before ${f(k.beforePerS)}/s, after ${f(k.afterPerS)}/s with the outage, ${f(k.afterResumePerS)}/s from the resumption`,
          `  the restarted server ${k.historySurvived ? 'still knew' : 'had lost'} the workflows completed before the kill (state in its SQLite file); reconciler repairs during the run: ${k.reconcilerRepairs}`,
        ]
      : []),
    '| from s | to s | delivered | per s | open workflows (max) | waiting in Postgres | Temporal CPU % | project + Postgres CPU % |',
    '|---|---|---|---|---|---|---|---|',
    ...x.rows.map(
      (r) =>
        `| ${f(r.fromS, 0)} | ${f(r.toS, 0)} | ${r.delivered} | ${f(r.perS)} | ${r.maxOpen ?? '-'} | ${r.waitingAtEnd} | ${f(r.temporalCpuPct, 0)} | ${f(r.projectCpuPct, 0)} |`,
    ),
  ];
}

function targets(r: Results): Target[] {
  const t: Target[] = [];
  for (const [name, x] of [
    [`${r.sources} sources`, r.many],
    ['1 hot source', r.hot],
  ] as const) {
    t.push({ target: `actions per record ≤ 7 (${name})`, figure: f(x.actions.total, 2), met: within(x.actions.total, 7, 2, 'max') });
  }
  const vsBare = r.paired.median;
  t.push({
    target: `delivered/s ≥ 0.85 x bare Temporal (${r.sources} sources)`,
    figure: `${f(vsBare, 2)} x, the median of ${r.paired.ratios.length} runs against the bare runs around each (${r.paired.ratios.map((x) => f(x, 2)).join(', ')}); this run's CPU allows ${f(ceiling(r, r.many), 2)} x`,
    met: within(vsBare, 0.85, 2, 'min'),
  });
  const hot = r.hotPaired;
  t.push({
    target: 'hot source ≥ 0.9 x many sources',
    figure: `${f(hot.median, 2)} x, the median of ${hot.ratios.length} runs against the ${r.sources}-source run of their round (${hot.ratios.map((x) => f(x, 2)).join(', ')})`,
    met: within(hot.median, 0.9, 2, 'min'),
  });
  const w = r.webhook;
  t.push({
    target: 'hot source with a webhook destination (loopback) ≥ 0.9 x the table destination',
    figure: w
      ? `${f(w.median, 2)} x, the median of ${w.ratios.length} runs against the hot run of their round (${w.ratios.map((x) => f(x, 2)).join(', ')})`
      : '',
    met: w ? within(w.median, 0.9, 2, 'min') : null,
  });
  t.push({
    target: 'idle latency p50 ≤ 150 ms',
    figure: `${f(r.idle.p50 * 1000, 0)} ms (bare Temporal's five activities: ${f(r.idle.bareP50 * 1000, 0)} ms)`,
    met: within(r.idle.p50 * 1000, 150, 0, 'max'),
  });
  const b = r.backlog;
  t.push({
    target: `backlog (${r.backlogShape}) drains steadily from the first second, no more than the start window started ahead of inbound per source`,
    figure: b
      ? `${f(b.perS)}/s; ${steadyFigure(b)}; ≤ ${b.peakOpen ?? '-'} open workflows, ≤ ${b.peakOpenPerSource} of one source, ≤ ${b.peakAheadPerSource} of them not past inbound (window ${b.startWindow}), ≤ ${b.peakWaiting} waiting in Postgres; Temporal ${f(b.temporalCpuPerRecord, 4)} CPU s/record`
      : '',
    met: b ? b.steady.steady && b.violations.length === 0 && b.peakAheadPerSource <= b.startWindow : null,
  });
  t.push({
    target: `backlog (${r.backlogShape}): every ${r.intervalS}-s interval after the first within 20 % of the median`,
    figure: b ? evenFigure(b) : '',
    met: b ? b.steady.even : null,
  });
  const k = r.backlogKill;
  t.push({
    target: `backlog (${r.backlogShape}) with a SIGKILL of the Temporal server mid-drain: steady, every record once and in order`,
    figure: k?.kill
      ? `before ${f(k.kill.beforePerS)}/s, after ${f(k.kill.afterResumePerS)}/s (paused ${f(k.kill.gapS, 1)} s); ${k.violations.length ? k.violations.join('; ') : 'all delivered once, in order'}`
      : '',
    met: k ? k.steady.steady && k.violations.length === 0 : null,
  });
  const s = r.sustained;
  t.push({
    target: `sustained load at ${f((s?.share ?? 0.7) * 100, 0)}% of capacity for ${s?.seconds ?? 60} s: accept -> delivered p99 ≤ 2 s`,
    figure: s ? `p99 ${f(s.p99, 2)} s (p50 ${f(s.p50, 2)} s) at ${f(s.submittedPerS)}/s of ${f(r.many.deliveredPerS)}/s` : '',
    met: s ? within(s.p99, 2, 2, 'max') : null,
  });
  const u = r.submits;
  t.push({
    target: 'submit latency (the 202, one record per request, kept-alive connection) p99 ≤ 10 ms while the pipeline works',
    figure: u ? `${submitFigure(u)} (${u.count} back to back)${s ? `; during the sustained load: ${submitFigure(s.submits)}` : ''}` : '',
    met: u ? within(u.p99, 10, 1, 'max') && (!s || within(s.submits.p99, 10, 1, 'max')) : null,
  });
  for (const [name, x] of [
    [`${r.sources} sources`, r.many],
    ['1 hot source', r.hot],
  ] as const) {
    t.push({
      target: `CPU s per record, project + Postgres vs Temporal server (${name})`,
      figure: `${f((x.cpu.project + x.cpu.postgres) / x.records, 4)} vs ${f(x.cpu.temporal / x.records, 4)} (bare Temporal: its worker ${f(r.bare.cpu.worker / r.bare.count, 4)}, the server ${f(r.bare.cpu.temporal / r.bare.count, 4)})`,
      met: null,
    });
  }
  return t;
}

export function report(r: Results): string[] {
  const out = ['', ...runsTable(r), ''];
  if (r.submits) {
    const u = r.submits;
    out.push(
      `submit latency, ${u.count} records one per request back to back on ${u.connections} kept-alive connection(s) (${f(u.seconds, 1)} s, ${u.deliveredMeanwhile} delivered meanwhile${u.busy ? `, ${u.busy} submitted in bulk just before` : ''}): ${submitFigure(u)}`,
      '',
    );
  }
  if (r.sustained) {
    const s = r.sustained;
    out.push(
      `sustained load: ${s.records} records at ${f(s.submittedPerS)}/s (target ${f(s.targetPerS)}/s = ${f(s.share * 100, 0)}% of ${f(r.many.deliveredPerS)}/s) for ${s.seconds} s, one per request on ${s.submits.connections} kept-alive connection(s); ${s.behindAtEnd} not yet delivered when the load stopped`,
      `  accept -> delivered p50 ${f(s.p50, 2)} s, p95 ${f(s.p95, 2)} s, p99 ${f(s.p99, 2)} s, max ${f(s.max, 2)} s; submit ${submitFigure(s.submits)}`,
      '',
    );
  }
  if (r.backlog) out.push(...backlogLines(`backlog, ${r.backlogShape} at once`, r.backlog), '');
  if (r.backlogKill)
    out.push(...backlogLines(`backlog, ${r.backlogShape} at once, Temporal server SIGKILLed mid-drain`, r.backlogKill), '');
  out.push('Targets:', ...targetTable(targets(r)));
  return out;
}
