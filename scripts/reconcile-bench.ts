// npm run bench:reconcile -- --open 10000,100000 --running 10000: how long one reconciler pass
// takes with that many open records in Postgres, of which `running` have a running workflow (on a
// dev server of its own, with no worker: the runs just wait) and the rest have none, which is the
// worst case: every one of them is a suspect, and the pass repairs at most RECONCILE_MAX_REPAIRS.
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../src/config';
import { Reconciler } from '../src/control/reconciler';
import { WorkflowStarter } from '../src/control/starter';
import { TemporalClients } from '../src/temporal/clients';
import { ensureTemporalCli } from '../src/launcher/temporal-cli';
import { devServerArgs } from '../src/launcher/dev-server-args';
import { waitForServer } from '../src/temporal/setup';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId, WORKFLOW_TASK_QUEUE } from '../src/contracts/names';
import { createScratchDb } from '../harness/scratch-db';
import { freePort } from '../harness/system';

const { values: args } = parseArgs({
  options: {
    open: { type: 'string', default: '10000,100000' },
    running: { type: 'string', default: '10000' },
    sources: { type: 'string', default: '100' },
    'max-repairs': { type: 'string', default: '500' },
  },
});
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const config = loadConfig();
  const cli = await ensureTemporalCli({ explicit: config.TEMPORAL_CLI, cacheDir: config.TEMPORAL_CLI_CACHE });
  const port = await freePort();
  const server = spawn(cli, devServerArgs({ port, uiPort: 0, namespaces: ['pipeline-east', 'pipeline-west'] }), { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  await (await waitForServer(address)).close();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'pipeline-east' });
  const temporal = new TemporalClients(loadConfig({ TEMPORAL_ADDRESS: address }).regions);
  const logger = pino({ level: 'silent' });
  const sources = Number(args.sources);
  const running = Number(args.running);
  let started = 0;
  try {
    for (const open of (args.open ?? '').split(',').map(Number)) {
      const db = await createScratchDb('reconcile_bench', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
      try {
        const perSource = Math.ceil(open / sources);
        await db.pool.query(`INSERT INTO sources (source_id, last_seq) SELECT 'rb-' || s, $2 FROM generate_series(1, $1) s`, [
          sources,
          perSource,
        ]);
        await db.pool.query(
          `INSERT INTO records (source_id, seq, record_id, payload, payload_hash, status, region, epoch, started_at, accepted_at)
           SELECT 'rb-' || s, q, 'r' || q, '{"amount": 1}', 'h', 'processing', 'east', 1, now() - interval '1 hour', now() - interval '1 hour'
             FROM generate_series(1, $1) s, generate_series(1, $2) q`,
          [sources, perSource],
        );
        await db.pool.query(
          `INSERT INTO watermarks (source_id, stage, watermark) SELECT 'rb-' || s, st, 0 FROM generate_series(1, $1) s, unnest($2::text[]) st ON CONFLICT DO NOTHING`,
          [sources, ['inbound', 'preprocess', 'core', 'postprocess', 'outbound']],
        );
        await db.pool.query('ANALYZE records');
        // Runs for the first `running` records (by seq across sources), kept from one size to the next.
        const want = Math.min(running, open);
        const t0 = performance.now();
        for (let i = started; i < want; i += 50) {
          await Promise.all(
            Array.from({ length: Math.min(50, want - i) }, (_, j) => {
              const n = i + j;
              const sourceId = `rb-${(n % sources) + 1}`;
              const seq = Math.floor(n / sources) + 1;
              return client.workflow.start(RECORD_WORKFLOW_TYPE, {
                taskQueue: `${WORKFLOW_TASK_QUEUE}-idle`,
                workflowId: recordWorkflowId(sourceId, seq),
                args: [],
              });
            }),
          );
        }
        if (want > started) say(`started ${want - started} idle runs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        started = Math.max(started, want);
        const starter = new WorkflowStarter({
          pool: db.pool,
          temporal,
          logger,
          concurrency: 32,
          relayIntervalMs: 60_000,
          nudgeAfterSeconds: 30,
          workflowDefaults: {},
        });
        const reconciler = new Reconciler({
          pool: db.pool,
          temporal,
          starter,
          logger,
          intervalMs: 60_000,
          stallSeconds: 60,
          graceSeconds: 10,
          maxRepairs: Number(args['max-repairs']),
        });
        const pass = await reconciler.runOnce();
        if (pass.error) throw new Error(pass.error);
        say(
          `${open} open records, ${pass.running} running runs: pass ${pass.durationMs} ms ` +
            `(list ${pass.phasesMs.list}, page ${pass.phasesMs.page}, describe ${pass.phasesMs.describe}, restart ${pass.phasesMs.restart}, stalled ${pass.phasesMs.stalled}); ` +
            `checked ${pass.checked}, repaired ${JSON.stringify(pass.repaired)}, deferred ${pass.deferred}, stalled sources ${pass.stalled.length}`,
        );
      } finally {
        await db.drop();
      }
    }
  } finally {
    await temporal.close();
    await connection.close();
    server.kill('SIGTERM');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
