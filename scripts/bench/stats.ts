// The bench's pure arithmetic: percentiles, a drain's per-interval rows from its samples, whether
// a drain was steady, and the targets beside their figures. Unit-tested in test/unit/bench-stats.test.ts.

/** The p-quantile (0..1) with linear interpolation between ranks, as Postgres' percentile_cont. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = p * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export const median = (xs: readonly number[]) => percentile(xs, 0.5);

/**
 * Pipeline runs interleaved with bare runs (bare, pipeline, bare, pipeline, ..., bare): each
 * pipeline run against the mean of the bare runs just before and after it, so that the machine's
 * drift within minutes hits both sides of a ratio alike. Returns each ratio, the median ratio and
 * the index of the run it came from (for an even count, the lower of the two middle ones).
 */
export function pairedRatios(pipeline: readonly number[], bare: readonly number[]): MedianRatio {
  if (bare.length !== pipeline.length + 1)
    throw new Error(`${pipeline.length} pipeline runs need ${pipeline.length + 1} bare runs around them`);
  return medianRatio(pipeline.map((x, i) => x / ((bare[i] + bare[i + 1]) / 2)));
}

/**
 * Runs of two kinds taken one right after the other in each round (the hot source after the
 * round's 10-source run): each of `a` against the `b` of its own round, not against a `b` measured
 * minutes away on a machine whose speed drifts. The same shape of answer as `pairedRatios`.
 */
export function sameRoundRatios(a: readonly number[], b: readonly number[]): MedianRatio {
  if (a.length !== b.length || a.length === 0) throw new Error(`${a.length} runs against ${b.length}: one of each per round`);
  return medianRatio(a.map((x, i) => x / b[i]));
}

/**
 * The ratio to bare Temporal that a host saturated by both would allow at these costs: CPU seconds
 * of a bare workflow (its worker and the server) over those of a pipeline record (the project's
 * processes, Postgres and the server). A run can measure more, when bare Temporal leaves part of the
 * host idle; not more for long, when the pipeline keeps every core busy. NaN without a cost.
 */
export function cpuCeiling(pipelinePerRecord: number, barePerWorkflow: number): number {
  return pipelinePerRecord > 0 && barePerWorkflow > 0 ? barePerWorkflow / pipelinePerRecord : NaN;
}

/** The ratios, their median, and the index of the run it came from (the lower middle one for an even count). */
export interface MedianRatio {
  ratios: number[];
  median: number;
  index: number;
}

function medianRatio(ratios: number[]): MedianRatio {
  const order = ratios.map((r, i) => [r, i] as const).sort((x, y) => x[0] - y[0]);
  const index = order[Math.floor((order.length - 1) / 2)][1];
  return { ratios, median: median(ratios), index };
}

/** One look at a draining backlog: seconds since the submit began, and counters at that moment. */
export interface Sample {
  t: number;
  delivered: number;
  /** Record workflows running in Temporal (null: not asked at this look, or the server did not answer). */
  openWorkflows: number | null;
  /** Accepted records whose workflow is not started yet: the backlog kept in Postgres. */
  waiting: number;
  /** CPU seconds used since the first sample. */
  temporalCpuS: number;
  projectCpuS: number;
}

/** One step of a record's trip through the pipeline: what happened, seconds from the run's start. */
export interface TripStep {
  step: string;
  atS: number;
}

/**
 * A record's trip as one line: each step's time, and the time since the step before. Where a
 * backlog's first interval goes: how long the first delivered record took at each stage while the
 * pipeline filled.
 */
export function tripFigure(steps: readonly TripStep[]): string {
  return steps.map((s, i) => `${s.step} ${s.atS.toFixed(2)} s${i ? ` (+${(s.atS - steps[i - 1].atS).toFixed(2)})` : ''}`).join(', ');
}

export interface IntervalRow {
  fromS: number;
  toS: number;
  delivered: number;
  perS: number;
  /** The most open workflows seen in the interval (null: never answered). */
  maxOpen: number | null;
  waitingAtEnd: number;
  /** CPU used in the interval, in % of one core. */
  temporalCpuPct: number;
  projectCpuPct: number;
}

/** Cuts samples into intervals of `everyS` seconds (the last one may be shorter). */
export function intervals(samples: readonly Sample[], everyS: number): IntervalRow[] {
  const rows: IntervalRow[] = [];
  let start = 0;
  while (start < samples.length - 1) {
    const a = samples[start];
    let end = start + 1;
    while (end < samples.length - 1 && samples[end].t < a.t + everyS - 1e-9) end += 1;
    const b = samples[end];
    const dt = b.t - a.t;
    const opens = samples
      .slice(start + 1, end + 1)
      .map((s) => s.openWorkflows)
      .filter((n): n is number => n !== null);
    rows.push({
      fromS: a.t,
      toS: b.t,
      delivered: b.delivered - a.delivered,
      perS: dt > 0 ? (b.delivered - a.delivered) / dt : 0,
      maxOpen: opens.length ? Math.max(...opens) : null,
      waitingAtEnd: b.waiting,
      temporalCpuPct: dt > 0 ? (100 * (b.temporalCpuS - a.temporalCpuS)) / dt : 0,
      projectCpuPct: dt > 0 ? (100 * (b.projectCpuS - a.projectCpuS)) / dt : 0,
    });
    start = end;
  }
  return rows;
}

export interface Steadiness {
  /** The first interval's rate over the median rate of the full intervals. */
  firstVsMedian: number;
  /**
   * The first interval's rate counted from the first delivery, over the median: what is left of
   * the slow start once the first record's own trip through the stages is taken out (reported,
   * not judged; null without a first delivery inside the first interval).
   */
  firstFromDeliveryVsMedian: number | null;
  /** The slowest full interval's rate over the median. */
  minVsMedian: number;
  /** The fastest full interval after the first, over the median. */
  maxVsMedian: number;
  /** Full intervals after the first, and how many of them lie within 20 % of the median. */
  laterIntervals: number;
  laterWithin20: number;
  medianPerS: number;
  steady: boolean;
  /** Every full interval after the first within 20 % of the median (as printed): an even drain, not only one without dips. */
  even: boolean;
}

/**
 * A drain is steady when its first interval already runs at ≥ 0.8 x the median rate (no slow
 * start) and no interval drops below 0.5 x the median. The last interval is left out (it ends with
 * the drain's last record: the tail, not the rate), and so are `exclude`d ones (an outage on purpose).
 */
export function steadiness(
  rows: readonly IntervalRow[],
  exclude: (r: IntervalRow) => boolean = () => false,
  firstDeliveryS?: number,
): Steadiness {
  const full = rows.slice(0, -1).filter((r) => !exclude(r));
  const rates = full.map((r) => r.perS);
  const med = median(rates);
  if (!rates.length || !(med > 0))
    return {
      firstVsMedian: 0,
      firstFromDeliveryVsMedian: null,
      minVsMedian: 0,
      maxVsMedian: 0,
      laterIntervals: 0,
      laterWithin20: 0,
      medianPerS: 0,
      steady: false,
      even: false,
    };
  const firstVsMedian = rates[0] / med;
  const minVsMedian = Math.min(...rates) / med;
  const later = rates.slice(1).map((r) => r / med);
  const inBand = (x: number) => within(x, 0.8, 2, 'min') && within(x, 1.2, 2, 'max');
  const first = full[0];
  const fromDelivery =
    firstDeliveryS !== undefined && firstDeliveryS >= first.fromS && firstDeliveryS < first.toS
      ? first.delivered / (first.toS - firstDeliveryS) / med
      : null;
  return {
    firstVsMedian,
    firstFromDeliveryVsMedian: fromDelivery,
    minVsMedian,
    maxVsMedian: later.length ? Math.max(...later) : 0,
    laterIntervals: later.length,
    laterWithin20: later.filter(inBand).length,
    medianPerS: med,
    // As printed (two decimals), like every other bound: 0.797 shows as 0.80 and meets ≥ 0.8.
    steady: within(firstVsMedian, 0.8, 2, 'min') && within(minVsMedian, 0.5, 2, 'min'),
    even: later.length > 0 && later.every(inBand),
  };
}

/** A target beside its figure; met is null when only reported (no bound) or not measured. */
export interface Target {
  target: string;
  figure: string;
  met: boolean | null;
}

/** Whether `value`, rounded as printed (`decimals`), is at most (or at least) `bound`. */
export function within(value: number, bound: number, decimals: number, way: 'max' | 'min'): boolean {
  const shown = Number(value.toFixed(decimals));
  return way === 'max' ? shown <= bound : shown >= bound;
}

export function targetTable(targets: readonly Target[]): string[] {
  const status = (t: Target) => (t.met === null ? (t.figure ? 'reported' : 'not measured') : t.met ? 'met' : 'not met');
  return ['| target | figure | status |', '|---|---|---|', ...targets.map((t) => `| ${t.target} | ${t.figure || '-'} | ${status(t)} |`)];
}
