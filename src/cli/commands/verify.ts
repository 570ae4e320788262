// `pipeline verify`: the invariant checker (src/db/verify.ts), straight against Postgres:
// exactly one row per record in every stage table and in deliveries, in seq order per source.
import type { Command } from 'commander';
import { loadCliConfig } from '../../config';
import { createPool, redactUrl } from '../../db/pool';
import { verifyInvariants, type VerifyReport } from '../../db/verify';
import { globals } from '../context';
import { CliError } from '../errors';
import { formatPairs, formatTable, print, printJson } from '../output';

export function violations(r: VerifyReport): string[] {
  const out: string[] = [];
  if (r.duplicates) out.push(`${r.duplicates} duplicate rows`);
  for (const v of r.orderViolations) out.push(`${v.table}: ${v.count} rows of ${v.sourceId} out of seq order (first at seq ${v.firstAtSeq})`);
  if (r.missing.length) {
    const m = r.missing[0];
    out.push(`${r.missing.length} rows missing for delivered records (first: ${m.table}, ${m.sourceId} #${m.seq})`);
  }
  return out;
}

function formatReport(r: VerifyReport): string {
  const records = Object.entries(r.records).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
  const rows = Object.entries(r.rows).map(([table, n]) => ({ table, rows: n }));
  return `${formatPairs([
    ['sources', r.sources],
    ['records', records],
    ['open', `${r.open} (accepted, processing or blocked: not judged yet)`],
    ['duplicates', r.duplicates],
    ['out of order', r.orderViolations.length],
    ['missing', r.missing.length],
    ['result', r.ok ? 'OK: every invariant holds' : 'FAILED'],
  ])}\n\n${formatTable(rows)}`;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check the invariants in Postgres (DATABASE_URL): once per stage, in seq order; exit 1 if one fails')
    .option('--database-url <url>', 'Postgres to check (default DATABASE_URL, else the local server)')
    .option('--source-prefix <prefix>', 'only sources whose id starts with this')
    .action(async (opts: { databaseUrl?: string; sourcePrefix?: string }, cmd: Command) => {
      const url = opts.databaseUrl ?? loadCliConfig().DATABASE_URL;
      const pool = createPool({ connectionString: url, applicationName: 'pipeline-cli', max: 1 });
      let report: VerifyReport;
      try {
        report = await verifyInvariants(pool, { sourcePrefix: opts.sourcePrefix });
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
