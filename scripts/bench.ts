// npm run bench: throughput and latency of the pipeline on this machine, next to a minimal bare
// Temporal run (one dedicated worker process, its own task queue, five empty activities) on the
// same server in the same run; the idle latency; the submit latency; a sustained load at a share of
// the measured capacity; a backlog drained, and again with the Temporal server SIGKILLed mid-drain;
// CPU per record from /proc; the targets (actions per record, delivered/s against bare Temporal, the
// hot source, idle latency, the backlog's steadiness, the sustained load, the submit latency) beside
// the figures. Loopback only, bounded in count and time, stops by itself.
//   npm run bench -- --sources 10 --records 100 --hot 300 --bare 400 --backlog 1000 --sustained-s 60
// A year of records: --prefill 1000000 --prefill-sources 10000 adds the large-database run;
// --soak-min 30 the soak (with --retention 2m --backlog 0: retention running during it).
// A quick look: --sources 2 --records 20 --hot 20 --bare 20 --pairs 1 --idle 3 --submits 50 --submits-busy 20 --sustained-s 10 --backlog 30 --backlog-sources 3
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { runBacklog } from './bench/backlog';
import { runScale, scaleLines, type Scale } from './bench/scale';
import { runSoak, soakLines, type Soak } from './bench/soak';
import { bareIdleLatency, measureBare, runBare, startBareWorker, BARE_TASK_QUEUE } from './bench/bare';
import { cpuSnapshot, cpuUsed, serverPids } from './bench/cpu';
import { runSubmitLatency, runSustained } from './bench/load';
import { pipelineIdleLatency, runPipeline, type Bench } from './bench/pipeline';
import { report, type Measured, type Results } from './bench/report';
import { startReceiver } from './bench/receiver';
import { pairedRatios, sameRoundRatios } from './bench/stats';
import { createScratchDb } from '../harness/scratch-db';
import { api, startSystem, stopAndRemove, waitFor } from '../harness/system';

const { values: args } = parseArgs({
  options: {
    sources: { type: 'string', default: '10' },
    records: { type: 'string', default: '100' },
    hot: { type: 'string', default: '300' },
    /** yes: each round also runs the hot source with a webhook destination (a receiver on loopback). */
    webhook: { type: 'string', default: 'yes' },
    /** 10-source runs, each between two bare runs; the ratio to bare is their median. */
    pairs: { type: 'string', default: '3' },
    bare: { type: 'string', default: '400' },
    idle: { type: 'string', default: '20' },
    batch: { type: 'string', default: '100' },
    /** Records one per request, back to back (0: skip). */
    submits: { type: 'string', default: '300' },
    /** Records submitted in bulk just before those, being delivered while they run (0: an idle pipeline). */
    'submits-busy': { type: 'string', default: '200' },
    /** Seconds of sustained load (0: skip), at this share of the measured capacity. */
    'sustained-s': { type: 'string', default: '60' },
    'sustained-load': { type: 'string', default: '0.7' },
    /** Records per source of the backlog (0: skip both backlog runs). */
    backlog: { type: 'string', default: '1000' },
    'backlog-sources': { type: 'string', default: '10' },
    /** yes: a second backlog run with the Temporal server SIGKILLed half way. */
    kill: { type: 'string', default: 'yes' },
    'interval-s': { type: 'string', default: '5' },
    /** The Temporal server: the CLI's dev server, or the real server on Postgres (TEMPORAL_SERVER). */
    engine: { type: 'string', default: 'dev' },
    /** Finished records added by SQL for the large-database run, over --prefill-sources sources (0: skip it). */
    prefill: { type: 'string', default: '0' },
    /** Minutes of the soak at --sustained-load x the capacity (0: skip). */
    'soak-min': { type: 'string', default: '0' },
    /** RETENTION for the system (the soak with retention running): only without --prefill and --backlog, whose records it would remove. */
    retention: { type: 'string', default: '' },
    'prefill-sources': { type: 'string', default: '10000' },
    'timeout-s': { type: 'string', default: '1800' },
  },
});
const n = (name: keyof typeof args) => Number(args[name]);
const NAMESPACE = 'pipeline-east';
const TIMEOUT_MS = n('timeout-s') * 1000;

/** The webhook destination's signing secret in the bench (the receiver does not check it). */
const BENCH_SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  if (args.engine !== 'dev' && args.engine !== 'postgres') throw new Error(`--engine is dev or postgres, not ${args.engine}`);
  if (args.retention && (n('prefill') > 0 || n('backlog') > 0)) {
    throw new Error('--retention removes finished records during the run: use it with --prefill 0 and --backlog 0 (for the soak)');
  }
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  const loadAtStart = load();
  const db = await createScratchDb('bench', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  say(`starting the system (database ${db.name}, Temporal: ${args.engine === 'dev' ? 'the dev server' : 'the real server on Postgres'})`);
  const retention: Record<string, string> = args.retention ? { RETENTION: args.retention, RETENTION_INTERVAL_MS: '10000' } : {};
  const sys = await startSystem({
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn', TEMPORAL_SERVER: args.engine, WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', ...retention },
  });
  // Interrupted (Ctrl-C, a kill): the system and its scratch database go too, not left running.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping the system`);
      void stopAndRemove(sys)
        .then(() => db.drop())
        .finally(() => process.exit(130));
    });
  }
  const receiver = args.webhook === 'yes' ? await startReceiver() : undefined;
  const toReceiver = async (ids: string[]) => {
    for (const id of ids) {
      const res = await api(`${sys.url}/v1/admin/sources/${id}/destination`, 'PUT', {
        type: 'webhook',
        url: receiver!.url,
        secret: BENCH_SECRET,
      });
      if (res.status !== 200) throw new Error(`PUT destination answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
  };
  const connection = await Connection.connect({ address: sys.temporalAddress });
  const client = new Client({ connection, namespace: NAMESPACE });
  const b: Bench = { sys, pool: db.pool, client, dbName: db.name, timeoutMs: TIMEOUT_MS, batch: n('batch') };
  let bare: Awaited<ReturnType<typeof startBareWorker>> | undefined;
  // Every wait is bounded by TIMEOUT_MS; this bounds the whole run.
  const guard = setTimeout(() => {
    say('benchmark timed out');
    void Promise.all([bare?.stop(), sys.stop()]).finally(() => process.exit(1));
  }, TIMEOUT_MS * 4);
  try {
    await waitFor('ready', async () => (await api<{ status: string }>(`${sys.url}/readyz`, 'GET')).body.status === 'ready', 120_000);
    bare = await startBareWorker(sys.temporalAddress, NAMESPACE, sys.env);
    const measured = async (what: () => ReturnType<typeof runPipeline>): Promise<Measured> => {
      const before = await cpuSnapshot(sys, db.pool, db.name);
      const r = await what();
      return { ...r, cpu: cpuUsed(before, await cpuSnapshot(sys, db.pool, db.name)) };
    };
    const bareRun = (when: string, worker: number) => {
      say(
        `bare Temporal (run ${when}): ${n('bare')} workflows of five empty activities on one dedicated worker process (task queue ${BARE_TASK_QUEUE}), started at once`,
      );
      return measureBare(client, worker, n('bare'), () => serverPids(sys, db.pool, db.name));
    };
    // The 10-source run against bare Temporal, interleaved (bare, pipeline, bare, ..., bare): this
    // shared machine's speed drifts within minutes, so each pipeline run is compared with the bare
    // runs around it, and the ratio is the median of those. The hot source runs in every round
    // too, right after its 10-source run, and is compared with that one.
    const pairs = n('pairs');
    // Both warmed up first (connections, JIT, the server's caches): a cold first bare run, at half
    // the speed of the next ones, made the first pair's ratio look better than the pipeline is.
    say('warming up: 10 records through the pipeline, 20 bare workflows');
    await runPipeline(b, 'warm', 2, 5);
    await runBare(client, 20);
    const bares = [await bareRun(`1 of ${pairs + 1}`, bare.pid)];
    const manys: Measured[] = [];
    const hots: Measured[] = [];
    const hooks: Measured[] = [];
    for (let i = 1; i <= pairs; i++) {
      say(`many sources (${i} of ${pairs}): ${n('sources')} x ${n('records')} records`);
      manys.push(await measured(() => runPipeline(b, 'many', n('sources'), n('records'))));
      say(`one hot source (${i} of ${pairs}): ${n('hot')} records`);
      hots.push(await measured(() => runPipeline(b, 'hot', 1, n('hot'))));
      if (receiver) {
        say(`one hot source with a webhook destination on loopback (${i} of ${pairs}): ${n('hot')} records`);
        hooks.push(await measured(() => runPipeline(b, 'hook', 1, n('hot'), toReceiver)));
      }
      bares.push(await bareRun(`${i + 1} of ${pairs + 1}`, bare.pid));
    }
    const paired = pairedRatios(
      manys.map((m) => m.deliveredPerS),
      bares.map((x) => x.perS),
    );
    const many = manys[paired.index];
    const hotPaired = sameRoundRatios(
      hots.map((h) => h.deliveredPerS),
      manys.map((m) => m.deliveredPerS),
    );
    const hot = hots[hotPaired.index];
    const hookPaired = hooks.length
      ? sameRoundRatios(
          hooks.map((h) => h.deliveredPerS),
          hots.map((h) => h.deliveredPerS),
        )
      : null;
    const webhook = hookPaired
      ? {
          run: hooks[hookPaired.index],
          hookPerS: hooks.map((h) => h.deliveredPerS),
          ratios: hookPaired.ratios,
          median: hookPaired.median,
          calls: receiver!.calls(),
        }
      : null;
    await receiver?.close();
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    const bareRate = mean(bares.map((x) => x.perS));
    const bareCpu = { worker: mean(bares.map((x) => x.cpu.worker)), temporal: mean(bares.map((x) => x.cpu.temporal)) };
    await new Promise((r) => setTimeout(r, 2000));
    say(`idle latency: ${n('idle')} lone records, one at a time`);
    const idle = await pipelineIdleLatency(b, n('idle'));
    say(`bare Temporal idle latency: ${n('idle')} lone workflows, one at a time`);
    const bareIdle = await bareIdleLatency(client, n('idle'));
    await bare.stop();
    bare = undefined;

    let submits = null;
    if (n('submits') > 0) {
      const busy = n('submits-busy') > 0 ? `, while ${n('submits-busy')} records submitted in bulk just before are delivered` : '';
      say(`submit latency: ${n('submits')} records, one per request, back to back over ${n('sources')} sources${busy}`);
      submits = await runSubmitLatency(b, n('submits'), n('sources'), n('submits-busy'));
    }
    let sustained = null;
    if (n('sustained-s') > 0) {
      const perS = n('sustained-load') * many.deliveredPerS;
      say(
        `sustained load: ${perS.toFixed(1)} records/s (${n('sustained-load')} x ${many.deliveredPerS.toFixed(1)}) for ${n('sustained-s')} s over ${n('sources')} sources`,
      );
      sustained = {
        ...(await runSustained(b, perS, n('sustained-s'), n('sources'))),
        share: n('sustained-load'),
        seconds: n('sustained-s'),
      };
    }
    let soak: Soak | null = null;
    if (n('soak-min') > 0) {
      const perS = n('sustained-load') * many.deliveredPerS;
      say(`soak: ${perS.toFixed(1)} records/s for ${n('soak-min')} min over ${n('sources')} sources`);
      soak = await runSoak(b, perS, n('soak-min'), n('sources'), args.retention || null, say);
    }
    const shape = `${n('backlog-sources')} sources x ${n('backlog')}`;
    let backlog = null;
    let backlogKill = null;
    if (n('backlog') > 0) {
      const opts = { sources: n('backlog-sources'), perSource: n('backlog'), intervalS: n('interval-s') };
      say(`backlog: ${shape} records submitted at once`);
      backlog = await runBacklog(b, { ...opts, kill: false });
      if (args.kill === 'yes') {
        say(`backlog: ${shape} records submitted at once, the Temporal dev server SIGKILLed half way`);
        backlogKill = await runBacklog(b, { ...opts, kill: true });
      }
    }
    // Last: the history it adds stays in this run's database.
    let scale: Scale | null = null;
    if (n('prefill') > 0) scale = await runScale(b, n('prefill'), n('prefill-sources'), say);
    const results: Results = {
      sources: n('sources'),
      many,
      hot,
      bare: { count: n('bare'), perS: bareRate, runs: bares.map((x) => x.perS), cpu: bareCpu },
      paired: { manyPerS: manys.map((m) => m.deliveredPerS), ratios: paired.ratios, median: paired.median },
      hotPaired: { hotPerS: hots.map((h) => h.deliveredPerS), ratios: hotPaired.ratios, median: hotPaired.median },
      webhook,
      idle: { count: n('idle'), p50: idle, bareP50: bareIdle },
      submits,
      sustained,
      backlog,
      backlogKill,
      backlogShape: shape,
      intervalS: n('interval-s'),
    };
    for (const line of report(results)) say(line);
    if (soak) for (const line of ['', ...soakLines(soak)]) say(line);
    if (scale) for (const line of ['', ...scaleLines(scale)]) say(line);
    say('');
    say(
      `engine: ${args.engine === 'dev' ? 'the Temporal CLI dev server (SQLite)' : 'the Temporal server on Postgres, one per region'}; machine: ${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; load average (1, 5, 15 min) at the start ${loadAtStart}, at the end ${load()}`,
    );
  } finally {
    clearTimeout(guard);
    await bare?.stop();
    await connection.close();
    await stopAndRemove(sys);
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
