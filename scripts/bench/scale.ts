// The large-database run: the same measurements on the database as it is, then after N finished
// records over S sources were added by SQL (months of traffic), side by side in one run: delivered/s,
// submit p99 and idle p50 within 10 %, and the scrapes (`/metrics`, `/v1/stats`) under 50 ms.
import { prefill } from '../../harness/prefill';
import { ADMIN_TOKEN } from '../../harness/system';
import { runSubmitLatency } from './load';
import { pipelineIdleLatency, runPipeline, type Bench } from './pipeline';
import { percentile, targetTable, within, type Target } from './stats';

export interface ScaleFigures {
  deliveredPerS: number;
  submitP99Ms: number;
  idleP50Ms: number;
  metricsMs: number;
  statsMs: number;
  databaseMb: number;
}

export interface Scale {
  records: number;
  sources: number;
  prefillSeconds: number;
  before: ScaleFigures;
  after: ScaleFigures;
}

const SCRAPES = 20;

/** The median of SCRAPES scrapes of one path (after one to warm up), ms. */
async function scrapeMs(url: string, path: string): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i <= SCRAPES; i++) {
    const started = performance.now();
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await res.text();
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    if (i > 0) ms.push(performance.now() - started);
  }
  return percentile(ms, 0.5);
}

async function figures(b: Bench): Promise<ScaleFigures> {
  const run = await runPipeline(b, 'scale', 10, 60);
  const submits = await runSubmitLatency(b, 100, 10, 0);
  const idle = await pipelineIdleLatency(b, 10);
  const { rows } = await b.pool.query<{ mb: number }>('SELECT pg_database_size(current_database()) / 1048576.0 AS mb');
  return {
    deliveredPerS: run.deliveredPerS,
    submitP99Ms: submits.p99,
    idleP50Ms: idle * 1000,
    metricsMs: await scrapeMs(b.sys.url, '/metrics'),
    statsMs: await scrapeMs(b.sys.url, '/v1/stats'),
    databaseMb: Number(rows[0].mb),
  };
}

export async function runScale(b: Bench, records: number, sources: number, say: (line: string) => void): Promise<Scale> {
  say('large database: 10 sources x 60, 100 single submits, 10 idle records and the scrapes on the database as it is');
  const before = await figures(b);
  say(`large database: adding ${records} finished records over ${sources} sources by SQL`);
  const prefillSeconds = await prefill(b.pool, { records, sources }, (done) => say(`  ${done} records`));
  say('large database: the same again');
  const after = await figures(b);
  return { records, sources, prefillSeconds, before, after };
}

const f = (n: number, d = 1) => n.toFixed(d);

export function scaleLines(s: Scale): string[] {
  const { before: a, after: z } = s;
  const ratio = (x: number, y: number) => `${f(y / x, 2)} x`;
  const rows: [string, (x: ScaleFigures) => number, number][] = [
    ['delivered/s, 10 sources x 60', (x) => x.deliveredPerS, 1],
    ['submit p99, 100 single records (ms)', (x) => x.submitP99Ms, 1],
    ['idle accept -> delivered p50 (ms)', (x) => x.idleP50Ms, 0],
    ['GET /metrics, median of 20 (ms)', (x) => x.metricsMs, 1],
    ['GET /v1/stats, median of 20 (ms)', (x) => x.statsMs, 1],
    ['database size (MB)', (x) => x.databaseMb, 0],
  ];
  const history = `+ ${s.records} records over ${s.sources} sources`;
  const targets: Target[] = [
    {
      target: 'delivered/s with the history within 10 %',
      figure: ratio(a.deliveredPerS, z.deliveredPerS),
      met: within(z.deliveredPerS / a.deliveredPerS, 0.9, 2, 'min'),
    },
    {
      target: 'submit p99 with the history within 10 %',
      figure: ratio(a.submitP99Ms, z.submitP99Ms),
      met: within(z.submitP99Ms / a.submitP99Ms, 1.1, 2, 'max'),
    },
    {
      target: 'idle p50 with the history within 10 %',
      figure: ratio(a.idleP50Ms, z.idleP50Ms),
      met: within(z.idleP50Ms / a.idleP50Ms, 1.1, 2, 'max'),
    },
    { target: '`/metrics` under 50 ms with the history', figure: `${f(z.metricsMs)} ms`, met: within(z.metricsMs, 50, 1, 'max') },
    { target: '`/v1/stats` under 50 ms with the history', figure: `${f(z.statsMs)} ms`, met: within(z.statsMs, 50, 1, 'max') },
  ];
  return [
    `large database (${s.records} finished records over ${s.sources} sources added by SQL in ${f(s.prefillSeconds, 0)} s):`,
    `| | as it was | ${history} | ratio |`,
    '|---|---|---|---|',
    ...rows.map(([name, get, d]) => `| ${name} | ${f(get(a), d)} | ${f(get(z), d)} | ${ratio(get(a), get(z))} |`),
    '',
    ...targetTable(targets),
  ];
}
