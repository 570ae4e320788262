// npm run bench: throughput and latency of the pipeline on this machine, next to a baseline of plain
// workflows on the same server. Loopback only, bounded in count and time, stops by itself.
//   npm run bench -- --sources 8 --records 100 --hot 300 --baseline 400
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from '../src/db/pool';
import { BASELINE_WORKFLOW_TYPE, recordWorkflowId, WORKFLOW_TASK_QUEUE } from '../src/contracts/names';
import { countActions, type ActionCount } from '../src/temporal/actions';
import { createScratchDb } from './scratch-db';
import { api, startSystem, waitFor, type System } from './system';

const { values: args } = parseArgs({
  options: {
    sources: { type: 'string', default: '8' },
    records: { type: 'string', default: '100' },
    hot: { type: 'string', default: '300' },
    baseline: { type: 'string', default: '400' },
    batch: { type: 'string', default: '100' },
    'timeout-s': { type: 'string', default: '600' },
  },
});
const N = Number(args.sources);
const M = Number(args.records);
const HOT = Number(args.hot);
const BASELINE = Number(args.baseline);
const BATCH = Number(args.batch);
const TIMEOUT_MS = Number(args['timeout-s']) * 1000;

const say = (line: string) => process.stdout.write(`${line}\n`);

async function limited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

interface RunResult {
  records: number;
  acceptedPerS: number;
  deliveredPerS: number;
  p50: number;
  p95: number;
  p99: number;
  actions: ActionCount;
}

async function runPipeline(sys: System, pool: Pool, client: Client, label: string, sources: number, perSource: number): Promise<RunResult> {
  const ids = Array.from({ length: sources }, (_, i) => `${label}-${i}-${randomBytes(2).toString('hex')}`);
  const requests = ids.flatMap((s) =>
    Array.from({ length: Math.ceil(perSource / BATCH) }, (_, b) => ({
      source: s,
      records: Array.from({ length: Math.min(BATCH, perSource - b * BATCH) }, (_, i) => ({
        id: `r${b}-${i}`,
        payload: { amount: i, batch: b, note: 'bench' },
      })),
    })),
  );
  const total = sources * perSource;
  const started = Date.now();
  // Sources in parallel, each source's batches in order (their seqs follow submission order).
  await Promise.all(ids.map(async (s) => {
    for (const r of requests.filter((x) => x.source === s)) {
      const res = await api(`${sys.url}/v1/sources/${s}/records`, 'POST', { records: r.records });
      if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
  }));
  const acceptedMs = Date.now() - started;
  let last = 0;
  await waitFor(`${total} deliveries`, async () => {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries WHERE source_id = ANY($1)', [ids]);
    if (rows[0].n !== last) {
      last = rows[0].n;
      process.stdout.write(`\r  ${label}: ${last}/${total} delivered, ${((Date.now() - started) / 1000).toFixed(1)} s   `);
    }
    return rows[0].n === total;
  }, TIMEOUT_MS, 250);
  process.stdout.write('\n');
  const { rows } = await pool.query<{ span: number; p50: number; p95: number; p99: number }>(
    `SELECT extract(epoch FROM max(d.delivered_at) - min(r.accepted_at)) AS span,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - r.accepted_at)) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - r.accepted_at)) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - r.accepted_at)) AS p99
       FROM deliveries d JOIN records r USING (source_id, seq) WHERE d.source_id = ANY($1)`,
    [ids],
  );
  // Actions per record, from a sample of histories.
  const sample = Array.from({ length: Math.min(30, total) }, (_, i) => ({ source: ids[i % sources], seq: 1 + ((i * 7) % perSource) }));
  const sum: ActionCount = { total: 0, starts: 0, activityAttempts: 0, signals: 0, timers: 0, upserts: 0 };
  for (const s of sample) {
    const c = countActions(await client.workflow.getHandle(recordWorkflowId(s.source, s.seq)).fetchHistory());
    for (const k of Object.keys(sum) as (keyof ActionCount)[]) sum[k] += c[k] / sample.length;
  }
  return {
    records: total,
    acceptedPerS: total / (acceptedMs / 1000),
    deliveredPerS: total / Number(rows[0].span),
    p50: Number(rows[0].p50),
    p95: Number(rows[0].p95),
    p99: Number(rows[0].p99),
    actions: sum,
  };
}

async function runBaseline(client: Client, count: number): Promise<number> {
  const started = Date.now();
  const handles: Awaited<ReturnType<typeof client.workflow.start>>[] = [];
  const tag = randomBytes(3).toString('hex');
  await limited(Array.from({ length: count }, (_, i) => i), 32, async (i) => {
    handles.push(await client.workflow.start(BASELINE_WORKFLOW_TYPE, { taskQueue: WORKFLOW_TASK_QUEUE, workflowId: `baseline:${tag}:${i}`, args: [] }));
  });
  let done = 0;
  await limited(handles, 64, async (h) => {
    await h.result();
    done += 1;
    if (done % 50 === 0) process.stdout.write(`\r  baseline: ${done}/${count} completed   `);
  });
  process.stdout.write('\n');
  return count / ((Date.now() - started) / 1000);
}

async function main() {
  const db = await createScratchDb('bench', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  say(`starting the system (database ${db.name})`);
  const sys = await startSystem({ databaseUrl: db.url, env: { LOG_LEVEL: 'warn' } });
  const pool = db.pool;
  const connection = await Connection.connect({ address: sys.temporalAddress });
  const client = new Client({ connection, namespace: 'pipeline-east' });
  const guard = setTimeout(() => {
    say('benchmark timed out');
    void sys.stop().finally(() => process.exit(1));
  }, TIMEOUT_MS * 3);
  try {
    await waitFor('ready', async () => (await api(`${sys.url}/readyz`, 'GET')).status === 200, 120_000);
    say(`many sources: ${N} x ${M} records`);
    const many = await runPipeline(sys, pool, client, 'many', N, M);
    say(`one hot source: ${HOT} records`);
    const hot = await runPipeline(sys, pool, client, 'hot', 1, HOT);
    say(`baseline: ${BASELINE} plain workflows of five empty activities, no gate, no Postgres`);
    const baseline = await runBaseline(client, BASELINE);

    const f = (n: number, d = 1) => n.toFixed(d);
    const row = (name: string, r: RunResult) =>
      `| ${name} | ${r.records} | ${f(r.acceptedPerS, 0)} | ${f(r.deliveredPerS)} | ${f(r.p50, 2)} | ${f(r.p95, 2)} | ${f(r.p99, 2)} | ${f(r.actions.total)} (${f(r.actions.activityAttempts)} activity attempts, ${f(r.actions.signals)} signals, ${f(r.actions.timers)} timers, ${f(r.actions.upserts)} upserts) |`;
    say('');
    say('| run | records | accepted/s | delivered/s | p50 s | p95 s | p99 s | actions per record |');
    say('|---|---|---|---|---|---|---|---|');
    say(row(`${N} sources`, many));
    say(row('1 hot source', hot));
    say(`| baseline (no gate, no Postgres) | ${BASELINE} | | ${f(baseline)} | | | | 6 (start + 5 activities) |`);
    say('');
    say(`pipeline / baseline (delivered per second): ${f(many.deliveredPerS / baseline, 2)}`);
    say(`hot source / many sources: ${f(hot.deliveredPerS / many.deliveredPerS, 2)}`);
  } finally {
    clearTimeout(guard);
    await connection.close();
    await sys.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
