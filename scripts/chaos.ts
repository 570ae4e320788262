// npm run chaos -- --duration 120 --seed 42: the whole system under continuous submissions while a
// seeded schedule kills, hangs and fails its parts; then heals, drains and checks the invariants from
// the tables. Loopback only, bounded in time, stops by itself; exits 1 if an invariant is broken or
// a record is left open. --api-env KEY=VALUE (repeatable) passes settings to the system's processes,
// e.g. --api-env SWEEPER=off to leave the re-driving to the reconciler alone.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensurePostgres } from '../src/launcher/postgres';
import { formatReport } from './chaos/report';
import { runChaos, type ChaosReport } from './chaos/run';
import { FAULT_KINDS, type FaultKind } from './chaos/schedule';
import { createScratchDb } from '../harness/scratch-db';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '120' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    sources: { type: 'string', default: '4' },
    'gap-ms': { type: 'string', default: '6000' },
    'drain-s': { type: 'string', default: '300' },
    // Repeatable: --api-env SWEEPER=off --api-env KEY=VALUE (for the system's processes, the API's among them).
    'api-env': { type: 'string', multiple: true, default: [] },
    // A focused run: --kinds failover-while-hung (comma-separated; every kind by default).
    kinds: { type: 'string' },
  },
});
const say = (line: string) => process.stdout.write(`${line}\n`);

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!m) {
      console.error(`--api-env wants KEY=VALUE, got ${JSON.stringify(pair)}`);
      process.exit(2);
    }
    env[m[1]] = m[2];
  }
  return env;
}
const apiEnv = parseEnv(args['api-env']);

function parseKinds(list: string | undefined): FaultKind[] | undefined {
  if (list === undefined) return undefined;
  const kinds = list
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown.length || kinds.length === 0) {
    console.error(`--kinds wants a comma-separated list of ${FAULT_KINDS.join(', ')}; got ${JSON.stringify(list)}`);
    process.exit(2);
  }
  return kinds as FaultKind[];
}
const kinds = parseKinds(args.kinds);

async function main() {
  const pg = await ensurePostgres({
    databaseUrl: process.env.DATABASE_URL,
    dataDir: path.join(os.tmpdir(), 'record-pipeline-chaos-pg'),
    log: say,
  });
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
      env: apiEnv,
      kinds,
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
