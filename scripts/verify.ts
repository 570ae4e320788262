// npm run verify: checks the invariants on a database at any time (DATABASE_URL, default the local
// pipeline database): no duplicate rows, per source ORDER BY id = ORDER BY seq in every stage table
// and in deliveries, every delivered record present in every table. Exits 1 when one is broken.
import { loadConfig } from '../src/config';
import { createPool } from '../src/db/pool';
import { verifyInvariants } from '../src/db/verify';

async function main() {
  const config = loadConfig();
  const pool = createPool({ connectionString: config.databaseUrl, applicationName: 'verify' });
  try {
    const report = await verifyInvariants(pool, { sourcePrefix: process.argv[2] });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(report.ok ? 'invariants hold\n' : 'INVARIANTS BROKEN\n');
    process.exitCode = report.ok ? 0 : 1;
  } finally {
    await pool.end();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`verify: ${err.message}\n`);
  process.exit(2);
});
