import {
  cpuCeiling,
  intervals,
  pairedRatios,
  percentile,
  sameRoundRatios,
  steadiness,
  targetTable,
  tripFigure,
  within,
  type Sample,
} from '../../scripts/bench/stats';

const sample = (t: number, delivered: number, extra: Partial<Sample> = {}): Sample => ({
  t,
  delivered,
  openWorkflows: 10,
  waiting: 0,
  temporalCpuS: t * 0.5,
  projectCpuS: t * 0.25,
  ...extra,
});

const row = (fromS: number, perS: number) => ({
  fromS,
  toS: fromS + 5,
  delivered: perS * 5,
  perS,
  maxOpen: 1,
  waitingAtEnd: 0,
  temporalCpuPct: 0,
  projectCpuPct: 0,
});

describe('bench statistics', () => {
  it('interpolates percentiles between ranks, as percentile_cont does', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 0.99)).toBeCloseTo(49.6);
    expect(percentile([5], 0.99)).toBe(5);
    expect(percentile([3, 1, 2], 0)).toBe(1);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('compares each pipeline run with the bare runs just before and after it, and takes the median', () => {
    // bare 10, pipeline 8, bare 14, pipeline 6, bare 10, pipeline 11, bare 12
    const r = pairedRatios([8, 6, 11], [10, 14, 10, 12]);
    expect(r.ratios.map((x) => Number(x.toFixed(3)))).toEqual([0.667, 0.5, 1]);
    expect(r.median).toBeCloseTo(0.667, 3);
    expect(r.index).toBe(0);
    // Two runs: the median is their mean, and the run shown is the lower one.
    expect(pairedRatios([9, 6], [10, 10, 10])).toMatchObject({ median: 0.75, index: 1 });
    expect(() => pairedRatios([8, 6], [10, 14])).toThrow('2 pipeline runs need 3 bare runs');
  });

  it("compares each hot-source run with its own round's 10-source run, and takes the median", () => {
    // Round 1: many 10, hot 12; round 2: many 5, hot 4 (the machine slowed); round 3: many 8, hot 8.
    const r = sameRoundRatios([12, 4, 8], [10, 5, 8]);
    expect(r.ratios).toEqual([1.2, 0.8, 1]);
    expect(r.median).toBe(1);
    expect(r.index).toBe(2);
    // Against the median 10-source run (8) the slow round's hot run alone would read 0.5.
    expect(() => sameRoundRatios([1, 2], [1])).toThrow('2 runs against 1');
    expect(() => sameRoundRatios([], [])).toThrow('0 runs against 0');
  });

  it('cuts samples into intervals with their rates, peaks and CPU', () => {
    const samples = [0, 1, 2, 3, 4, 5, 6, 7].map((t) =>
      sample(t, t * 10, { openWorkflows: t === 2 ? null : 40 - t, waiting: 100 - t * 10 }),
    );
    const rows = intervals(samples, 3);
    expect(rows.map((r) => [r.fromS, r.toS, r.delivered, r.perS])).toEqual([
      [0, 3, 30, 10],
      [3, 6, 30, 10],
      [6, 7, 10, 10],
    ]);
    expect(rows[0].maxOpen).toBe(39); // the null (no answer) is not a peak
    expect(rows[1].waitingAtEnd).toBe(40);
    expect(rows[0].temporalCpuPct).toBeCloseTo(50);
    expect(rows[0].projectCpuPct).toBeCloseTo(25);
  });

  it('takes late samples as they come: an interval ends at the first sample past its length', () => {
    const rows = intervals([sample(0, 0), sample(1.2, 5), sample(2.6, 12), sample(3.1, 20)], 2);
    expect(rows.map((r) => [r.fromS, r.toS, r.delivered])).toEqual([
      [0, 2.6, 12],
      [2.6, 3.1, 8],
    ]);
  });

  it('calls a drain steady only without a slow start or a dip, leaving out the tail and an outage', () => {
    const steady = [row(0, 19), row(5, 20), row(10, 21), row(15, 2)];
    expect(steadiness(steady)).toMatchObject({ steady: true, medianPerS: 20 });
    expect(steadiness(steady).firstVsMedian).toBeCloseTo(0.95);
    const slowStart = [row(0, 5), row(5, 20), row(10, 20), row(15, 20), row(20, 3)];
    expect(steadiness(slowStart)).toMatchObject({ steady: false, firstVsMedian: 0.25 });
    const dip = [row(0, 20), row(5, 8), row(10, 20), row(15, 20), row(20, 3)];
    expect(steadiness(dip)).toMatchObject({ steady: false, minVsMedian: 0.4 });
    expect(steadiness(dip, (r) => r.fromS === 5).steady).toBe(true);
    expect(steadiness([row(0, 20)]).steady).toBe(false); // nothing but the tail: not judged steady
  });

  it('calls a drain even only when every full interval after the first is within 20 % of the median', () => {
    // The first (slow start) and the tail are not judged; 16 and 24 against 20 are at the bounds.
    const even = [row(0, 5), row(5, 16), row(10, 20), row(15, 24), row(20, 20), row(25, 2)];
    expect(steadiness(even)).toMatchObject({ even: true, laterIntervals: 4, laterWithin20: 4, maxVsMedian: 1.2 });
    const burst = [row(0, 20), row(5, 20), row(10, 25), row(15, 20), row(20, 2)];
    expect(steadiness(burst)).toMatchObject({ steady: true, even: false, laterIntervals: 3, laterWithin20: 2, maxVsMedian: 1.25 });
    const dip = [row(0, 20), row(5, 15), row(10, 20), row(15, 20), row(20, 2)];
    expect(steadiness(dip)).toMatchObject({ steady: true, even: false, laterWithin20: 2 });
    expect(steadiness([row(0, 20), row(5, 2)]).even).toBe(false); // nothing after the first: not judged even
  });

  it('judges steadiness on the ratios as printed (two decimals), like every other bound', () => {
    // 9.8 against a median of 12.3 is 0.797, printed 0.80: steady, as the table says.
    const justAtBound = [row(0, 9.8), row(5, 12.3), row(10, 12.3), row(15, 12.6), row(20, 3)];
    expect(steadiness(justAtBound).firstVsMedian).toBeCloseTo(0.797, 3);
    expect(steadiness(justAtBound).steady).toBe(true);
    // 9.7 / 12.3 = 0.789, printed 0.79: not.
    expect(steadiness([row(0, 9.7), row(5, 12.3), row(10, 12.3), row(15, 12.6), row(20, 3)]).steady).toBe(false);
    // The dip's bound alike: 6.1 / 12.3 = 0.496, printed 0.50.
    expect(steadiness([row(0, 12.3), row(5, 6.1), row(10, 12.3), row(15, 12.6), row(20, 3)]).steady).toBe(true);
  });

  it('reports the first interval counted from the first delivery, beside the judged figure', () => {
    // 5 s at 12/s, the first delivery at 2 s: 36 delivered in 3 s is the median rate.
    const fill = [row(0, 7.2), row(5, 12), row(10, 12), row(15, 12), row(20, 3)];
    const s = steadiness(fill, () => false, 2);
    expect(s).toMatchObject({ steady: false, medianPerS: 12 });
    expect(s.firstVsMedian).toBeCloseTo(0.6);
    expect(s.firstFromDeliveryVsMedian).toBeCloseTo(1);
    expect(steadiness(fill).firstFromDeliveryVsMedian).toBeNull();
    expect(steadiness(fill, () => false, 6).firstFromDeliveryVsMedian).toBeNull(); // not inside the first interval
  });

  it("prints a record's trip with the time each step took", () => {
    const trip = [
      { step: 'accepted', atS: 0.03 },
      { step: 'started', atS: 0.31 },
      { step: 'inbound', atS: 0.54 },
      { step: 'outbound', atS: 2.5 },
    ];
    expect(tripFigure(trip)).toBe('accepted 0.03 s, started 0.31 s (+0.28), inbound 0.54 s (+0.23), outbound 2.50 s (+1.96)');
    expect(tripFigure([])).toBe('');
  });

  it('gives the ratio to bare that the CPU of both allows on a saturated host', () => {
    // A pipeline record costs 0.044 s in its processes and Postgres and 0.058 s in the server; a bare
    // workflow 0.020 s in its worker and 0.056 s in the server.
    expect(cpuCeiling(0.044 + 0.058, 0.02 + 0.056)).toBeCloseTo(0.745, 3);
    expect(cpuCeiling(0.05, 0.05)).toBe(1);
    expect(cpuCeiling(0, 0.076)).toBeNaN();
    expect(cpuCeiling(0.1, 0)).toBeNaN();
  });

  it('judges a bound on the figure as printed', () => {
    expect(within(7.0000001, 7, 2, 'max')).toBe(true);
    expect(within(7.006, 7, 2, 'max')).toBe(false);
    expect(within(0.849, 0.85, 2, 'min')).toBe(true);
    expect(within(0.844, 0.85, 2, 'min')).toBe(false);
  });

  it('prints every target with its figure and status', () => {
    expect(
      targetTable([
        { target: 'a ≤ 7', figure: '7.00', met: true },
        { target: 'b ≥ 1', figure: '0.5', met: false },
        { target: 'c', figure: '0.1 vs 0.2', met: null },
        { target: 'd', figure: '', met: null },
      ]),
    ).toEqual([
      '| target | figure | status |',
      '|---|---|---|',
      '| a ≤ 7 | 7.00 | met |',
      '| b ≥ 1 | 0.5 | not met |',
      '| c | 0.1 vs 0.2 | reported |',
      '| d | - | not measured |',
    ]);
  });
});
