// npm run profile: where the CPU goes, per process. Runs N sources x M records through the
// pipeline and then the bench's bare Temporal run on the same server, and prints the CPU
// milliseconds per record of every process (each worker, the API, the supervisor, the Temporal
// server, the Postgres backends grouped by the process they serve), read from /proc.
// Loopback only, bounded, stops by itself.
//   npm run profile -- --sources 10 --records 60 --bare 300
// With --cpu-prof DIR every Node process of the system also writes V8 CPU profiles there.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createScratchDb } from '../harness/scratch-db';
import { api, startSystem, stopAndRemove, waitFor } from '../harness/system';
import { measureBare, runBare, startBareWorker } from './bench/bare';
import { serverPids, snapPids, used } from './bench/cpu';
import { runPipeline, type Bench } from './bench/pipeline';
import type { Pool } from '../src/db/pool';

const { values: args } = parseArgs({
  options: {
    sources: { type: 'string', default: '10' },
    records: { type: 'string', default: '60' },
    bare: { type: 'string', default: '300' },
    'cpu-prof': { type: 'string' },
  },
});
const n = (name: 'sources' | 'records' | 'bare') => Number(args[name]);
const say = (line: string) => process.stdout.write(`${line}\n`);
const NAMESPACE = 'pipeline-east';
/** The label of the Temporal server's processes (and of its Postgres backends, on the real server). */
const SERVER = 'temporal server';

/** Every process to watch, by label: workers by their title, Postgres backends by application name. */
async function processes(b: Bench, pool: Pool): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const seen = new Set<number>();
  // A process once (the dev server serves both regions: listed twice, counted under the first).
  const add = (label: string, pid: number | null) => {
    if (!pid || seen.has(pid)) return;
    seen.add(pid);
    out.set(label, [...(out.get(label) ?? []), pid]);
  };
  add('supervisor', b.sys.proc.pid ?? null);
  add('api', await b.sys.apiPid());
  for (const w of await b.sys.workers()) add(w.title, w.pid);
  // Each server by its name (one per region on the real server), and the real server's own Postgres
  // backends (its databases are named after ours), which count as the server's.
  const regions = await api<{ servers?: { region: string; pid: number | null }[] }>(`${b.sys.url}/v1/admin/regions`, 'GET');
  for (const x of regions.body.servers ?? []) add(`${SERVER} ${x.region}`, x.pid);
  const server = await pool.query<{ pid: number; datname: string }>(
    `SELECT pid, datname FROM pg_stat_activity WHERE starts_with(datname, $1 || '_temporal_')`,
    [b.dbName],
  );
  for (const r of server.rows) add(`${SERVER}: postgres ${r.datname.slice(b.dbName.length + 1)}`, r.pid);
  const { rows } = await pool.query<{ pid: number; app: string }>(
    'SELECT pid, application_name AS app FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [b.dbName],
  );
  for (const r of rows) add(`postgres: ${r.app || '?'}`, r.pid);
  return out;
}

const snapshot = (procs: Map<string, number[]>) => new Map([...procs].map(([label, pids]) => [label, snapPids(pids)]));

async function main() {
  const db = await createScratchDb('profile', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  // Node refuses --cpu-prof in NODE_OPTIONS; the supervisor's forked children inherit its execArgv.
  const profDir = args['cpu-prof'] && path.resolve(args['cpu-prof']);
  if (profDir) fs.mkdirSync(profDir, { recursive: true });
  say(`starting the system (database ${db.name})`);
  const sys = await startSystem({
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn' },
    nodeArgs: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  });
  const connection = await Connection.connect({ address: sys.temporalAddress });
  const client = new Client({ connection, namespace: NAMESPACE });
  const b: Bench = { sys, pool: db.pool, client, dbName: db.name, timeoutMs: 600_000, batch: 100 };
  const bare = await startBareWorker(sys.temporalAddress, NAMESPACE, sys.env);
  try {
    await waitFor('ready', async () => (await api<{ status: string }>(`${sys.url}/readyz`, 'GET')).body.status === 'ready', 120_000);
    // Warm up both: the first records pay for connections and JIT.
    await runPipeline(b, 'warm', 2, 5);
    await runBare(client, 20);
    const idleMs = 5000;
    let procs = await processes(b, db.pool);
    let before = snapshot(procs);
    await new Promise((r) => setTimeout(r, idleMs));
    const idle = new Map([...procs.keys()].map((k) => [k, (used(before.get(k)!, snapPids(procs.get(k)!)) * 1000) / (idleMs / 1000)]));

    const total = n('sources') * n('records');
    say(`pipeline: ${n('sources')} sources x ${n('records')} records`);
    procs = await processes(b, db.pool);
    before = snapshot(procs);
    const run = await runPipeline(b, 'profile', n('sources'), n('records'));
    procs = await processes(b, db.pool); // backends opened during the run count too
    const pipe = new Map([...procs].map(([k, pids]) => [k, (used(before.get(k) ?? new Map(), snapPids(pids)) * 1000) / total]));

    say(`bare Temporal: ${n('bare')} workflows`);
    procs = await processes(b, db.pool);
    before = snapshot(procs);
    const bareRun = await measureBare(client, bare.pid, n('bare'), () => serverPids(sys, db.pool, db.name));
    procs = await processes(b, db.pool);
    const barePer = new Map([...procs].map(([k, pids]) => [k, (used(before.get(k) ?? new Map(), snapPids(pids)) * 1000) / n('bare')]));
    const barePerS = bareRun.perS;
    const bareWorker = (bareRun.cpu.worker * 1000) / n('bare');
    const bareServer = (bareRun.cpu.temporal * 1000) / n('bare');

    say('');
    say('| process | idle, ms CPU per s | pipeline, ms CPU per record | during the bare run, ms CPU per workflow |');
    say('| --- | --- | --- | --- |');
    const rows = [...pipe].sort((x, y) => y[1] - x[1]);
    for (const [label, ms] of rows) {
      say(`| ${label} | ${(idle.get(label) ?? 0).toFixed(1)} | ${ms.toFixed(1)} | ${(barePer.get(label) ?? 0).toFixed(1)} |`);
    }
    const sum = (pred: (label: string) => boolean) => rows.filter(([l]) => pred(l)).reduce((a, [, ms]) => a + ms, 0);
    const server = sum((l) => l.startsWith(SERVER));
    const own = sum((l) => !l.startsWith(SERVER));
    say(`| **project + Postgres** | | **${own.toFixed(1)}** |`);
    say('');
    say(`pipeline: ${run.deliveredPerS.toFixed(1)} delivered/s, p50 ${run.p50.toFixed(2)} s; bare: ${barePerS.toFixed(1)} workflows/s`);
    say(`CPU ms per record: pipeline ${own.toFixed(1)} own + ${server.toFixed(1)} Temporal server = ${(own + server).toFixed(1)}`);
    say(
      `CPU ms per workflow: bare ${bareWorker.toFixed(1)} worker + ${bareServer.toFixed(1)} Temporal server = ${(bareWorker + bareServer).toFixed(1)}`,
    );
  } finally {
    await bare.stop();
    await connection.close();
    await stopAndRemove(sys);
    await db.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
