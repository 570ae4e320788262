// npm run chaos -- --duration 120 --seed 42: the whole system under continuous submissions while a
// seeded schedule kills and fails its parts; then heals, drains and checks the invariants from the
// tables. Loopback only, bounded in time, stops by itself; exits 1 if an invariant is broken.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensurePostgres } from '../src/workers/postgres';
import { formatReport } from './chaos/report';
import { runChaos, type ChaosReport } from './chaos/run';
import { createScratchDb } from './scratch-db';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '120' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    sources: { type: 'string', default: '4' },
    'gap-ms': { type: 'string', default: '6000' },
    'drain-s': { type: 'string', default: '300' },
  },
});
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const pg = await ensurePostgres({ databaseUrl: process.env.DATABASE_URL, dataDir: path.join(os.tmpdir(), 'record-pipeline-chaos-pg'), log: say });
  const db = await createScratchDb('chaos', pg.databaseUrl);
  let report: ChaosReport | undefined;
  try {
    report = await runChaos({
      databaseUrl: db.url,
      pool: db.pool,
      seed: Number(args.seed),
      durationS: Number(args.duration),
      sources: Number(args.sources),
      meanGapMs: Number(args['gap-ms']),
      drainTimeoutS: Number(args['drain-s']),
      handleSignals: true,
      log: say,
    });
    say(formatReport(report));
  } finally {
    if (report?.ok) await db.drop();
    else {
      await db.pool.end();
      say(`database kept for inspection: ${db.url}`);
    }
    await pg.stop();
  }
  process.exit(report?.ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
