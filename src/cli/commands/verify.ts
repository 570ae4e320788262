// `pipeline verify`: the invariant checker (src/db/verify.ts), straight against Postgres: every
// delivered record once in every stage table and in deliveries, in seq order per source; skipped
// records stopped where they were skipped; no stray rows; with --drained, nothing left open.
import type { Command } from 'commander';
import { loadCliConfig } from '../../config';
import { createPool, redactUrl } from '../../db/pool';
import { verifyInvariants, violations, type VerifyReport } from '../../db/verify';
import { globals } from '../context';
import { CliError } from '../errors';
import { formatPairs, formatTable, print, printJson } from '../output';

function formatReport(r: VerifyReport): string {
  const records =
    Object.entries(r.records)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '-';
  const rows = Object.entries(r.rows).map(([table, n]) => ({ table, rows: n }));
  const open = r.openRecords.length
    ? `\n\nopen records${r.open > r.openRecords.length ? ` (first ${r.openRecords.length} of ${r.open})` : ''}:\n${formatTable(r.openRecords)}`
    : '';
  return `${formatPairs([
    ['sources', r.sources],
    ['records', records],
    [
      'open',
      `${r.open} (accepted, processing or blocked${r.expectDrained ? ': a failure with --drained' : ': not judged, --drained to fail on them'})`,
    ],
    ['out of order', r.orderViolations.length],
    ['not once', `${r.notOnce.length} (delivered records without exactly one row in a table)`],
    ['bad skips', `${r.badSkips.length} (skipped records with rows past their stage, a delivery or no dead letter)`],
    ['delivery counts', `${r.deliveryCounts.length} (sources whose deliveries differ from their delivered records)`],
    ['orphans', `${r.orphans.length} (rows of no record, deliveries of undelivered records)`],
    ['seq gaps', `${r.seqGaps.length} (sources whose records are not exactly seqs 1..last_seq)`],
    ['result', r.ok ? 'OK: every invariant holds' : 'FAILED'],
  ])}\n\n${formatTable(rows)}${open}`;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check the invariants in Postgres (DATABASE_URL): once per stage, in seq order; exit 1 if one fails')
    .option('--database-url <url>', 'Postgres to check (default DATABASE_URL, else the local server)')
    .option('--source-prefix <prefix>', 'only sources whose id starts with this')
    .option('--drained', 'also fail when a record is still open (accepted, processing or blocked)')
    .action(async (opts: { databaseUrl?: string; sourcePrefix?: string; drained?: boolean }, cmd: Command) => {
      const url = opts.databaseUrl ?? loadCliConfig().DATABASE_URL;
      const pool = createPool({ connectionString: url, applicationName: 'pipeline-cli', max: 1 });
      let report: VerifyReport;
      try {
        report = await verifyInvariants(pool, { sourcePrefix: opts.sourcePrefix, expectDrained: opts.drained === true });
      } catch (err) {
        const e = err as Error & { code?: string };
        throw new CliError(`cannot check Postgres at ${redactUrl(url)}: ${e.message || e.code}`);
      } finally {
        await pool.end();
      }
      if (globals(cmd).json) printJson(report);
      else print(formatReport(report));
      if (!report.ok) throw new CliError(`invariants violated: ${violations(report).join('; ')}`);
    });
}
