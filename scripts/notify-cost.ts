// npm run bench:notify: what the gate's NOTIFY costs each stage write, measured where it would
// hurt most: many sources, several worker processes per stage listening. Writers commit stage-write
// shaped transactions (the watermark's UPDATE, the stage row's INSERT, one round trip) as fast as
// they can, in rounds alternating with and without the `pg_notify` the real write sends, while the
// real GateListener (one per worker process of each stage, and the API's on inbound) receives them
// in a child process. Printed per round: commits/s and CPU per commit (Postgres backends, the
// writers, the listeners); the difference is the most that notifying only when someone waits could
// save, before what registering each wait would cost.
//   npm run bench:notify -- --sources 200 --listeners-per-stage 2 --writers 8 --seconds 10 --rounds 3 [--rate 100]
import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { STAGES, type Stage } from '../src/contracts/names';
import { GateListener } from '../src/db/gate-listener';
import { createScratchDb } from '../harness/scratch-db';
import { snapPids, used } from './bench/cpu';
import { median } from './bench/stats';

const { values: args } = parseArgs({
  options: {
    sources: { type: 'string', default: '200' },
    'listeners-per-stage': { type: 'string', default: '2' },
    writers: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    /** Commits per second over all writers (0: as fast as they go, which is where the commits serialise). */
    rate: { type: 'string', default: '0' },
    /** Internal: run as the listeners' process on this database. */
    listen: { type: 'string' },
  },
});
const n = (name: keyof typeof args) => Number(args[name]);
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const SCHEMA = `
CREATE TABLE notify_bench_wm (source_id text, stage text, watermark bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source_id, stage));
CREATE TABLE notify_bench_rows (source_id text, stage text, seq bigint, output jsonb NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source_id, stage, seq));
-- The shape of stage_write's commit: the row, the watermark, and (p_notify) the same notice.
CREATE FUNCTION notify_bench_write(p_source text, p_stage text, p_notify boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
  UPDATE notify_bench_wm SET watermark = watermark + 1, updated_at = now()
   WHERE source_id = p_source AND stage = p_stage RETURNING watermark INTO v;
  INSERT INTO notify_bench_rows (source_id, stage, seq, output) VALUES (p_source, p_stage, v, '{"amount": 1}');
  IF p_notify THEN
    PERFORM pg_notify('pipeline_gate_' || p_stage, json_build_object('s', p_source, 't', p_stage, 'w', v)::text);
  END IF;
  RETURN v;
END $$;`;

/** The listeners' process: what the workers (and the API, on inbound) run, counting what arrives. */
async function listen(url: string): Promise<void> {
  let notices = 0;
  const perStage = n('listeners-per-stage');
  const listeners: GateListener[] = [];
  const stages: Stage[] = [...STAGES.flatMap((s) => Array<Stage>(perStage).fill(s)), 'inbound'];
  for (const stage of stages) {
    const l = await GateListener.start({ connectionString: url, applicationName: 'notify-bench', stages: [stage] });
    l.subscribe(() => notices++);
    listeners.push(l);
  }
  process.send!({ ready: listeners.length });
  process.on('message', (m: { count?: boolean; stop?: boolean }) => {
    if (m.count) process.send!({ notices });
    if (m.stop) void Promise.all(listeners.map((l) => l.close())).then(() => process.exit(0));
  });
}

interface Round {
  notify: boolean;
  commits: number;
  seconds: number;
  notices: number;
  cpu: { postgres: number; writers: number; listeners: number };
}

async function main() {
  if (args.listen) return listen(args.listen);
  const db = await createScratchDb('notify_bench', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const child = fork(__filename, ['--listen', db.url, '--listeners-per-stage', String(n('listeners-per-stage'))]);
  const ask = <T>(msg: object, key: string) =>
    new Promise<T>((resolve) => {
      const on = (m: Record<string, unknown>) => {
        if (key in m) {
          child.off('message', on);
          resolve(m as T);
        }
      };
      child.on('message', on);
      if (Object.keys(msg).length) child.send(msg);
    });
  const writers: pg.Client[] = [];
  try {
    await db.pool.query(SCHEMA);
    const sources = Array.from({ length: n('sources') }, (_, i) => `nb-${i}`);
    await db.pool.query(`INSERT INTO notify_bench_wm (source_id, stage) SELECT s, t FROM unnest($1::text[]) s, unnest($2::text[]) t`, [
      sources,
      [...STAGES],
    ]);
    const { ready } = await ask<{ ready: number }>({}, 'ready');
    for (let i = 0; i < n('writers'); i++) {
      const c = new pg.Client({ connectionString: db.url, application_name: 'notify-bench' });
      await c.connect();
      writers.push(c);
    }
    const rate = n('rate');
    say(
      `${n('writers')} writers over ${sources.length} sources x 5 stages, ${rate > 0 ? `${rate} commits/s` : 'as fast as they go'}; ${ready} listening connections (${n('listeners-per-stage')} per stage, 1 more on inbound)`,
    );
    const backends = async () =>
      (await db.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db.name])).rows.map((r) => r.pid);
    const round = async (notify: boolean): Promise<Round> => {
      const pids = await backends();
      const pgBefore = snapPids(pids);
      const childBefore = snapPids([child.pid!]);
      const me = process.cpuUsage();
      const { notices: noticesBefore } = await ask<{ notices: number }>({ count: true }, 'notices');
      const started = performance.now();
      const until = started + n('seconds') * 1000;
      let commits = 0;
      // Writer w takes the sources w, w + writers, ...: no two writers wait on one row.
      await Promise.all(
        writers.map(async (c, w) => {
          const mine = sources.filter((_, i) => i % writers.length === w);
          for (let k = 0; performance.now() < until; k++) {
            // Paced: this writer's share of the rate, each commit at its slot.
            if (rate > 0) await sleep(started + ((k * writers.length) / rate) * 1000 - performance.now());
            if (performance.now() >= until) break;
            await c.query('SELECT notify_bench_write($1, $2, $3)', [mine[k % mine.length], STAGES[k % STAGES.length], notify]);
            commits++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      // Let the listeners take what was sent before counting them.
      await new Promise((r) => setTimeout(r, 500));
      const { notices } = await ask<{ notices: number }>({ count: true }, 'notices');
      const cpu = process.cpuUsage(me);
      return {
        notify,
        commits,
        seconds,
        notices: notices - noticesBefore,
        cpu: {
          postgres: used(pgBefore, snapPids(pids)),
          writers: (cpu.user + cpu.system) / 1e6,
          listeners: used(childBefore, snapPids([child.pid!])),
        },
      };
    };
    const rounds: Round[] = [];
    await round(true); // warm-up
    for (let r = 0; r < n('rounds'); r++) {
      for (const notify of r % 2 ? [false, true] : [true, false]) {
        const x = await round(notify);
        rounds.push(x);
        const per = (s: number) => ((s / x.commits) * 1e6).toFixed(0).padStart(4);
        say(
          `${notify ? 'NOTIFY   ' : 'no NOTIFY'}  ${(x.commits / x.seconds).toFixed(0).padStart(5)} commits/s  CPU per commit: Postgres ${per(x.cpu.postgres)} µs, writers ${per(x.cpu.writers)} µs, listeners ${per(x.cpu.listeners)} µs  (${x.notices} notices received)`,
        );
      }
    }
    const summary = (notify: boolean) => {
      const rs = rounds.filter((x) => x.notify === notify);
      return {
        rate: median(rs.map((x) => x.commits / x.seconds)),
        cpuUs: median(rs.map((x) => ((x.cpu.postgres + x.cpu.writers + x.cpu.listeners) / x.commits) * 1e6)),
      };
    };
    const on = summary(true);
    const off = summary(false);
    say(
      `median: with NOTIFY ${on.rate.toFixed(0)} commits/s, ${on.cpuUs.toFixed(0)} µs CPU each; without ${off.rate.toFixed(0)} commits/s, ${off.cpuUs.toFixed(0)} µs each`,
    );
    say(
      `NOTIFY costs ${(on.cpuUs - off.cpuUs).toFixed(0)} µs CPU per stage write (${(((on.cpuUs - off.cpuUs) * 5) / 1000).toFixed(2)} ms per record of five stages); rate ${((on.rate / off.rate) * 100).toFixed(0)} % of without`,
    );
  } finally {
    await Promise.all(writers.map((c) => c.end().catch(() => undefined)));
    child.send({ stop: true });
    await new Promise((r) => child.once('exit', r));
    await db.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
