// `pipeline submit <source> <file>`: sends a file's records in file order, batch by batch, with a
// progress bar on a terminal and a summary. The file is checked whole first (a bad line sends
// nothing), and sending stops at the first refused batch: the source's order is the file's order,
// and re-running the same command is safe (ids already accepted come back as duplicates).
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { MAX_BATCH } from '../../contracts/limits';
import { apiClient, globals, intArg, sourceArg, enc } from '../context';
import { ApiRequestError, CliError } from '../errors';
import { readRecordsFile, type FileRecord, type LineError } from '../files';
import type { ApiClient } from '../http';
import { formatPairs, print, printJson } from '../output';

interface SubmitReply {
  records: { id: string; seq: number; duplicate: boolean }[];
}

export interface SubmitSummary {
  source: string;
  file: string;
  records: number;
  accepted: number;
  duplicates: number;
  /** Records in a batch the API refused (4xx): nothing of it was accepted. */
  rejected: number;
  /** Records after a refused or failed batch (and those of a failed one), not sent so as to keep the file's order. */
  notSent: number;
  firstSeq: number | null;
  lastSeq: number | null;
  failure: { lines: string; status: number | null; error: string; message: string; conflictingLines?: number[] } | null;
}

export async function submitRecords(
  client: ApiClient,
  source: string,
  file: string,
  records: FileRecord[],
  batchSize: number,
  onBatch: (done: number, summary: SubmitSummary) => void = () => undefined,
): Promise<SubmitSummary> {
  const s: SubmitSummary = {
    source,
    file,
    records: records.length,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    notSent: 0,
    firstSeq: null,
    lastSeq: null,
    failure: null,
  };
  for (let start = 0; start < records.length; start += batchSize) {
    const batch = records.slice(start, start + batchSize);
    const lines = `${batch[0].line}-${batch[batch.length - 1].line}`;
    try {
      const reply = await client.post<SubmitReply>(`/v1/sources/${enc(source)}/records`, {
        records: batch.map((r) => ({ id: r.id, payload: r.payload })),
      });
      for (const r of reply.records) {
        if (r.duplicate) s.duplicates += 1;
        else s.accepted += 1;
        s.firstSeq = Math.min(s.firstSeq ?? r.seq, r.seq);
        s.lastSeq = Math.max(s.lastSeq ?? r.seq, r.seq);
      }
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      // Nothing sent yet and no answer at all: just the one-line error.
      if (start === 0 && !(err instanceof ApiRequestError)) throw err;
      const refused = err instanceof ApiRequestError && err.status < 500;
      // A refused batch changed nothing; a failed one (5xx, no answer) may or may not have been
      // accepted, so it counts as not sent: re-running finds its records as duplicates if it was.
      s.rejected = refused ? batch.length : 0;
      s.notSent = records.length - start - s.rejected;
      s.failure =
        err instanceof ApiRequestError
          ? { lines, status: err.status, error: err.code, message: err.apiMessage, conflictingLines: conflictLines(err, batch) }
          : { lines, status: null, error: 'unreachable', message: err.message };
      break;
    }
    onBatch(start + batch.length, s);
  }
  return s;
}

/** For a 409 id_conflict: the lines whose ids were accepted before with another payload. */
function conflictLines(err: ApiRequestError, batch: FileRecord[]): number[] | undefined {
  const ids = (err.details as { ids?: unknown } | undefined)?.ids;
  if (!Array.isArray(ids)) return undefined;
  return batch.filter((r) => ids.includes(r.id)).map((r) => r.line);
}

function badLinesMessage(file: string, errors: LineError[]): string {
  const [first, ...more] = errors;
  const rest = more.length
    ? ` (and ${more.length} more bad line${more.length > 1 ? 's' : ''}: ${more
        .slice(0, 10)
        .map((e) => e.line)
        .join(', ')}${more.length > 10 ? ', ...' : ''})`
    : '';
  return `${file} line ${first.line}: ${first.message}${rest}; nothing was sent`;
}

function progressBar(total: number): cliProgress.SingleBar | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      format: 'submit |{bar}| {percentage}% {value}/{total} records, {duplicates} duplicates, {eta_formatted} left',
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { duplicates: 0 });
  return bar;
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('submit a JSONL or CSV file of records to a source, in file order')
    .argument('<source>', 'source id', sourceArg)
    .argument('<file>', 'records: .jsonl (one object per line) or .csv (a header row with an id column)')
    .option('--batch <n>', `records per request (1-${MAX_BATCH})`, intArg(1, MAX_BATCH), 500)
    .option('--format <format>', 'jsonl or csv, when the extension does not tell')
    .action(async (source: string, file: string, opts: { batch: number; format?: string }, cmd: Command) => {
      const { json } = globals(cmd);
      const { records, errors } = await readRecordsFile(file, opts.format);
      if (errors.length) {
        if (json) printJson({ source, file, errors });
        throw new CliError(badLinesMessage(file, errors));
      }
      if (!records.length) throw new CliError(`${file}: no records in the file; nothing was sent`);
      const bar = json ? undefined : progressBar(records.length);
      let summary: SubmitSummary;
      try {
        summary = await submitRecords(apiClient(cmd), source, file, records, opts.batch, (done, s) =>
          bar?.update(done, { duplicates: s.duplicates }),
        );
      } finally {
        bar?.stop();
      }
      if (json) printJson(summary);
      else print(formatSummary(summary));
      const f = summary.failure;
      if (f) {
        const at = f.conflictingLines?.length ? ` (conflicting ids on lines ${f.conflictingLines.slice(0, 10).join(', ')})` : '';
        const what = f.status === null ? f.message : `${f.status} ${f.error}: ${f.message}`;
        const refused = f.status !== null && f.status < 500;
        throw new CliError(
          `batch of lines ${f.lines} ${refused ? 'rejected' : 'failed'}: ${what}${at}; ${summary.notSent} records not sent` +
            (refused ? '' : ' (re-run the same command: what was accepted comes back as duplicates)'),
        );
      }
    });
}

function formatSummary(s: SubmitSummary): string {
  const pairs: [string, unknown][] = [
    ['source', s.source],
    ['file', `${s.file} (${s.records} records)`],
    ['accepted', s.accepted],
    ['duplicates', s.duplicates],
    ['rejected', s.rejected ? `${s.rejected} (lines ${s.failure!.lines}: ${s.failure!.error})` : 0],
  ];
  if (s.notSent) pairs.push(['not sent', s.notSent]);
  if (s.firstSeq !== null) pairs.push(['seqs', `${s.firstSeq}..${s.lastSeq}`]);
  return formatPairs(pairs);
}
