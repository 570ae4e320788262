// The soak: a steady load at a share of the measured capacity for many minutes, to show that
// nothing grows: the resident memory of every process (API and supervisor, each worker, the
// Temporal server) and the accept -> delivered p99, early (the second sixth of the run: minutes
// 5-10 of 30) against late (the last sixth), and nothing left open at the end. The latencies are
// read as the records are delivered (each source's deliveries past a seq cursor), so they are
// measured even when RETENTION removes the records during the run.
import fs from 'node:fs';
import { sourceIds, type Bench } from './pipeline';
import { waitFor } from '../../harness/system';
import { retentionView } from '../../src/control/retention';
import { publishAtRate } from './load';
import { temporalPids } from './cpu';
import { percentile, targetTable, within, type Target } from './stats';

const SAMPLE_MS = 15_000;

export interface Soak {
  minutes: number;
  targetPerS: number;
  submittedPerS: number;
  records: number;
  /** Per process (by name): mean RSS in MB, early and late. */
  rss: { name: string; early: number; late: number }[];
  p99: { early: number; late: number };
  /** Records not delivered or skipped once the load stopped and the pipeline drained. */
  openAtEnd: number;
  retention: string | null;
  retentionRemoved: number;
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined; // gone
  }
}

async function processes(b: Bench): Promise<Map<string, number>> {
  const named = new Map<string, number>([
    ['supervisor', b.sys.proc.pid!],
    ['api', await b.sys.apiPid()],
  ]);
  for (const w of await b.sys.workers()) if (w.pid !== null) named.set(w.title, w.pid);
  for (const [i, pid] of (await temporalPids(b.sys)).entries()) named.set(`temporal server ${i + 1}`, pid);
  return named;
}

/** Accept -> delivered (s) of each source's deliveries past its cursor, moving the cursors. */
async function deliveredSince(b: Bench, cursors: Map<string, number>): Promise<number[]> {
  const ids = [...cursors.keys()];
  const { rows } = await b.pool.query<{ source_id: string; seq: number; s: number }>(
    `SELECT d.source_id, d.seq, extract(epoch FROM d.delivered_at - r.accepted_at)::float8 AS s
       FROM unnest($1::text[], $2::bigint[]) AS u(source_id, after)
       JOIN deliveries d ON d.source_id = u.source_id AND d.seq > u.after
       JOIN records r ON r.source_id = d.source_id AND r.seq = d.seq`,
    [ids, ids.map((id) => cursors.get(id)!)],
  );
  for (const r of rows) cursors.set(r.source_id, Math.max(cursors.get(r.source_id)!, r.seq));
  return rows.map((r) => r.s);
}

export async function runSoak(
  b: Bench,
  perS: number,
  minutes: number,
  sources: number,
  retention: string | null,
  say: (line: string) => void,
): Promise<Soak> {
  const ids = sourceIds('soak', sources);
  const cursors = new Map(ids.map((id) => [id, 0]));
  const seconds = minutes * 60;
  const samples: { atS: number; rss: Map<string, number>; latencies: number[] }[] = [];
  const removedBefore = await retentionRemoved(b);
  const started = Date.now();
  let nextSample = started + SAMPLE_MS;
  const { submitted: i } = await publishAtRate(b, ids, perS, seconds, 'soak', async (submitted) => {
    if (Date.now() < nextSample) return;
    nextSample += SAMPLE_MS;
    const rss = new Map<string, number>();
    for (const [name, pid] of await processes(b)) {
      const mb = rssMb(pid);
      if (mb !== undefined) rss.set(name, mb);
    }
    const atS = (Date.now() - started) / 1000;
    samples.push({ atS, rss, latencies: await deliveredSince(b, cursors) });
    say(`  soak: ${atS.toFixed(0)} s, ${submitted} submitted, API ${rss.get('api')?.toFixed(0)} MB`);
  });
  const loadS = (Date.now() - started) / 1000;
  // Drained when no record of the soak is open (with RETENTION the first ones are gone by then).
  const open = async () =>
    (
      await b.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM records WHERE source_id = ANY($1) AND status NOT IN ('delivered', 'skipped')`,
        [ids],
      )
    ).rows[0].n;
  const accepted = async () =>
    (await b.pool.query<{ n: number }>('SELECT COALESCE(sum(last_seq), 0)::int AS n FROM sources WHERE source_id = ANY($1)', [ids])).rows[0]
      .n;
  if ((await accepted()) !== i) throw new Error(`the soak submitted ${i} records, the sources accepted ${await accepted()}`);
  await waitFor('the soak to drain', async () => (await open()) === 0, b.timeoutMs, 500).catch(() => undefined);
  // Early: the second sixth of the run (minutes 5-10 of 30); late: the last sixth.
  const inWindow = (from: number, to: number) => samples.filter((s) => s.atS > from * seconds && s.atS <= to * seconds);
  const early = inWindow(1 / 6, 1 / 3);
  const late = inWindow(5 / 6, 1);
  const meanRss = (xs: typeof samples, name: string) => {
    const v = xs.map((s) => s.rss.get(name)).filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, x) => a + x, 0) / v.length : NaN;
  };
  const names = [...new Set(samples.flatMap((s) => [...s.rss.keys()]))];
  return {
    minutes,
    targetPerS: perS,
    submittedPerS: i / loadS,
    records: i,
    rss: names.map((name) => ({ name, early: meanRss(early, name), late: meanRss(late, name) })),
    p99: {
      early: percentile(
        early.flatMap((s) => s.latencies),
        0.99,
      ),
      late: percentile(
        late.flatMap((s) => s.latencies),
        0.99,
      ),
    },
    openAtEnd: await open(),
    retention,
    retentionRemoved: (await retentionRemoved(b)) - removedBefore,
  };
}

const retentionRemoved = async (b: Bench) => (await retentionView(b.pool)).recordsRemoved;

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');

export function soakLines(s: Soak): string[] {
  const grew = s.rss.filter((p) => !(p.late <= p.early * 1.2));
  const worst = s.rss.reduce((w, p) => (p.late / p.early > w.late / w.early ? p : w), s.rss[0]);
  const targets: Target[] = [
    {
      target: 'RSS of every process flat (late within 20 % of early)',
      figure: `${s.rss.length} processes, ${grew.length} grew past 20 %; the most: ${worst?.name} ${f(worst?.early ?? NaN, 0)} -> ${f(worst?.late ?? NaN, 0)} MB`,
      met: s.rss.length > 0 && grew.length === 0,
    },
    {
      target: 'accept -> delivered p99 flat (late within 20 % of early)',
      figure: `${f(s.p99.early, 2)} s -> ${f(s.p99.late, 2)} s`,
      met: within(s.p99.late / s.p99.early, 1.2, 2, 'max'),
    },
    { target: 'nothing left open after the soak', figure: `${s.openAtEnd} open`, met: s.openAtEnd === 0 },
  ];
  return [
    `soak: ${s.records} records at ${f(s.submittedPerS)}/s (target ${f(s.targetPerS)}/s) for ${s.minutes} min${s.retention ? `, RETENTION=${s.retention} (${s.retentionRemoved} records removed meanwhile)` : ''}; early = the second sixth of the run, late = the last sixth`,
    '| process | RSS early (MB) | RSS late (MB) |',
    '|---|---|---|',
    ...s.rss.map((p) => `| ${p.name} | ${f(p.early, 0)} | ${f(p.late, 0)} |`),
    '',
    ...targetTable(targets),
  ];
}
