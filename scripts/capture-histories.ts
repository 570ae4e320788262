// npm run histories:capture: runs the real system, drives a record down every path the workflow
// takes, and saves each history as the Temporal CLI exports it, as today's code starts records
// (test/histories/fast-gate-<path>.json: the start carries `gate: 'fast'`). The files without the
// prefix were captured by earlier code (before the fast gate, or before a patch) and are kept:
// npm test replays them all against today's workflow code, so old runs still in flight stay safe.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../src/config';
import { runStage } from '../src/activities/stage-write';
import { recordStartOptions } from '../src/control/start-options';
import { checkpointRecords } from '../src/db/checkpoint';
import type { Pool } from '../src/db/pool';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId, STAGES } from '../src/contracts/names';
import { defaultWork } from '../src/stages/work';
import { ensureTemporalCli } from '../src/launcher/temporal-cli';
import { stateQuery } from '../src/contracts/record.messages';
import { createScratchDb } from '../harness/scratch-db';
import { api, startSystem, submit, waitFor, type System } from '../harness/system';

const OUT = path.join(path.resolve(__dirname, '..', '..'), 'test', 'histories');
/** How today's starts name their histories (see the top of this file). */
const PREFIX = 'fast-gate-';
const say = (line: string) => process.stdout.write(`${line}\n`);

interface Ctx {
  sys: System;
  pool: Pool;
  east: Client;
  cli: string;
}

const delivered = async (ctx: Ctx, src: string, n: number) =>
  waitFor(
    `${n} delivered of ${src}`,
    async () => {
      const { rows } = await ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries WHERE source_id = $1', [src]);
      return rows[0].n === n;
    },
    60_000,
    200,
  );
/** One batch of these payloads, ids r0, r1, ... */
const submitPayloads = (ctx: Ctx, src: string, payloads: Record<string, unknown>[]) =>
  submit(
    ctx.sys.url,
    src,
    payloads.map((payload, i) => ({ id: `r${i}`, payload })),
  );
const fault = (ctx: Ctx, stage: string, action: 'fail' | 'recover') =>
  api(`${ctx.sys.url}/v1/admin/faults`, 'POST', { region: 'east', stage, action });
const blocked = (ctx: Ctx, src: string) =>
  waitFor('blocked', async () => (await api<{ blocked: unknown }>(`${ctx.sys.url}/v1/sources/${src}`, 'GET')).body.blocked, 60_000, 200);
const closed = (client: Client, id: string) =>
  waitFor(`${id} closed`, async () => (await client.workflow.getHandle(id).describe()).status.name !== 'RUNNING', 60_000, 200);

async function save(ctx: Ctx, name: string, namespace: string, workflowId: string, address = ctx.sys.temporalAddress, runId?: string) {
  const run = runId ? ['-r', runId] : [];
  const { stdout } = await promisify(execFile)(
    ctx.cli,
    ['workflow', 'show', '--address', address, '-n', namespace, '-w', workflowId, ...run, '--output', 'json'],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const history = JSON.parse(stdout);
  fs.writeFileSync(path.join(OUT, `${PREFIX}${name}.json`), JSON.stringify(history, null, 2) + '\n');
  say(`  saved ${PREFIX}${name}.json (${history.events.length} events)`);
}

const scenarios: [string, (ctx: Ctx, src: string) => Promise<void>][] = [
  [
    'clean-run',
    async (ctx, src) => {
      await submitPayloads(ctx, src, [{ amount: 1 }]);
      await delivered(ctx, src, 1);
      await save(ctx, 'clean-run', 'pipeline-east', recordWorkflowId(src, 1));
    },
  ],
  [
    'waited-for-predecessor',
    async (ctx, src) => {
      await submitPayloads(ctx, src, [{ amount: 1 }, { amount: 2 }, { amount: 3 }]);
      await delivered(ctx, src, 3);
      await save(ctx, 'waited-for-predecessor', 'pipeline-east', recordWorkflowId(src, 3));
    },
  ],
  [
    'dependency-failure-retries',
    async (ctx, src) => {
      await fault(ctx, 'preprocess', 'fail');
      await submitPayloads(ctx, src, [{ amount: 1 }]);
      await new Promise((r) => setTimeout(r, 2500));
      await fault(ctx, 'preprocess', 'recover');
      await delivered(ctx, src, 1);
      await save(ctx, 'dependency-failure-retries', 'pipeline-east', recordWorkflowId(src, 1));
    },
  ],
  [
    'blocked-then-skipped',
    async (ctx, src) => {
      await submitPayloads(ctx, src, [{ amount: 1 }, { amount: 'bad' }]);
      await blocked(ctx, src);
      await api(`${ctx.sys.url}/v1/sources/${src}/records/2/skip`, 'POST', { reason: 'capture' });
      await closed(ctx.east, recordWorkflowId(src, 2));
      await save(ctx, 'blocked-then-skipped', 'pipeline-east', recordWorkflowId(src, 2));
    },
  ],
  [
    'blocked-then-retried',
    async (ctx, src) => {
      await submitPayloads(ctx, src, [{ amount: 'bad' }]);
      await blocked(ctx, src);
      await ctx.pool.query(`UPDATE stage_preprocess SET output = jsonb_set(output, '{record,amount}', '5') WHERE source_id = $1`, [src]);
      await api(`${ctx.sys.url}/v1/sources/${src}/records/1/retry`, 'POST');
      await delivered(ctx, src, 1);
      await save(ctx, 'blocked-then-retried', 'pipeline-east', recordWorkflowId(src, 1));
    },
  ],
  [
    'continued-as-new',
    async (ctx, src) => {
      // Record 2 is started first with a tiny history limit: it waits, and continues as new past it.
      await checkpointRecords(ctx.pool, src, [
        { id: 'a', payload: { amount: 1 }, hash: 'a' },
        { id: 'b', payload: { amount: 2 }, hash: 'b' },
      ]);
      // Claimed as started at once: the relay must not start record 1 before its time.
      await ctx.pool.query(
        `UPDATE records SET status = 'processing', region = 'east', epoch = 1, started_at = now() WHERE source_id = $1`,
        [src],
      );
      const start = (seq: number) =>
        ctx.east.workflow.start(
          RECORD_WORKFLOW_TYPE,
          recordStartOptions({ source_id: src, seq, epoch: null }, { name: 'east', epoch: 1 }, {}, { historyLimit: 12 }),
        );
      const second = await start(2);
      await waitFor('2 waiting', async () => (await second.query(stateQuery)).phase === 'waiting');
      await start(1);
      await delivered(ctx, src, 2);
      // The first run: it ends with the continue-as-new command.
      await save(ctx, 'continued-as-new', 'pipeline-east', recordWorkflowId(src, 2), undefined, second.firstExecutionRunId);
    },
  ],
  [
    'waited-for-fallback-recheck',
    async (ctx, src) => {
      // The predecessor is processed outside Temporal, so no signal comes: the sweeper's nudge does.
      await checkpointRecords(ctx.pool, src, [
        { id: 'a', payload: { amount: 1 }, hash: 'a' },
        { id: 'b', payload: { amount: 2 }, hash: 'b' },
      ]);
      const mark = `UPDATE records SET status = 'processing', region = 'east', epoch = 1, started_at = now() WHERE source_id = $1 AND seq = $2`;
      await ctx.pool.query(mark, [src, 1]);
      await ctx.east.workflow.start(
        RECORD_WORKFLOW_TYPE,
        recordStartOptions({ source_id: src, seq: 2, epoch: null }, { name: 'east', epoch: 1 }, {}, {}),
      );
      await ctx.pool.query(mark, [src, 2]);
      await waitFor(
        'waiting',
        async () => (await ctx.east.workflow.getHandle(recordWorkflowId(src, 2)).query(stateQuery)).phase === 'waiting',
      );
      for (const stage of STAGES)
        await runStage({ pool: ctx.pool, region: 'east', work: defaultWork }, stage, { sourceId: src, seq: 1, epoch: 1 });
      await delivered(ctx, src, 2);
      await save(ctx, 'waited-for-fallback-recheck', 'pipeline-east', recordWorkflowId(src, 2));
    },
  ],
  [
    'superseded-by-failover',
    async (ctx, src) => {
      await fault(ctx, 'core', 'fail');
      await submitPayloads(ctx, src, [{ amount: 1 }]);
      await waitFor(
        'at core',
        async () => (await ctx.pool.query(`SELECT 1 FROM stage_preprocess WHERE source_id = $1`, [src])).rowCount === 1,
      );
      await api(`${ctx.sys.url}/v1/admin/failover`, 'POST', { to: 'west' });
      await closed(ctx.east, recordWorkflowId(src, 1));
      await save(ctx, 'superseded-by-failover', 'pipeline-east', recordWorkflowId(src, 1));
      await fault(ctx, 'core', 'recover');
      await delivered(ctx, src, 1);
      await save(ctx, 'recovered-in-standby-region', 'pipeline-west', recordWorkflowId(src, 1));
    },
  ],
];

async function main() {
  const config = loadConfig();
  const cli = await ensureTemporalCli({ explicit: config.TEMPORAL_CLI, cacheDir: config.TEMPORAL_CLI_CACHE });
  fs.mkdirSync(OUT, { recursive: true });
  const db = await createScratchDb('capture', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  say('starting the system');
  // No automatic failover, no superseding sweep and no reconciler while capturing: each path is
  // driven by hand. `npm run histories:capture -- NAME...` captures only the named paths.
  const only = process.argv.slice(2);
  const sys = await startSystem({
    databaseUrl: db.url,
    env: {
      FAILOVER: 'manual',
      HEALTH_INTERVAL_MS: '600000',
      RECONCILE_INTERVAL_MS: '600000',
      RETRY_MAX_INTERVAL_MS: '300',
      GATE_NUDGE_SECONDS: '2',
      RELAY_INTERVAL_MS: '500',
      STAGE_DELAY_MS: '50',
      ACTIVITY_TIMEOUT_MS: '3000',
    },
  });
  const pool = db.pool;
  const connection = await Connection.connect({ address: sys.temporalAddress });
  const ctx: Ctx = { sys, pool, east: new Client({ connection, namespace: 'pipeline-east' }), cli };
  try {
    for (const [name, run] of scenarios) {
      if (only.length && !only.includes(name)) continue;
      say(name);
      await run(ctx, `${name}-${randomBytes(2).toString('hex')}`);
    }
  } finally {
    await connection.close();
    await sys.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
