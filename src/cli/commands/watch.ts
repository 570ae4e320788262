// `pipeline watch <source>`: the stage watermarks, redrawn in place on a terminal (a line per
// change otherwise, NDJSON with --json), until every record is delivered (or skipped).
import type { Command } from 'commander';
import { STAGES } from '../../contracts/names';
import { apiClient, enc, globals, intArg, sourceArg } from '../context';
import { ApiRequestError, CliError } from '../errors';
import type { SourceReply } from './status';

const LABELS = [...STAGES, 'delivered'];
const BAR = 30;

export function isDone(s: SourceReply): boolean {
  return s.lastSeq > 0 && (s.watermarks as Record<string, number>).delivered >= s.lastSeq;
}

function bar(value: number, total: number): string {
  const full = total > 0 ? Math.round((value / total) * BAR) : 0;
  return `${'█'.repeat(full)}${'░'.repeat(BAR - full)}`;
}

function blockedLine(s: SourceReply): string {
  return s.blocked ? `blocked: seq ${s.blocked.seq} (${s.blocked.id}) at ${s.blocked.stage}: ${s.blocked.reason ?? ''}` : '';
}

/** The block of lines a terminal shows. */
export function renderWatch(s: SourceReply, elapsedMs: number, note = ''): string[] {
  const wm = s.watermarks as Record<string, number>;
  const width = String(s.lastSeq).length;
  return [
    `source ${s.sourceId}   last seq ${s.lastSeq}   ${(elapsedMs / 1000).toFixed(1)} s`,
    ...LABELS.map((l) => `${l.padEnd(11)} ${bar(wm[l], s.lastSeq)} ${String(wm[l]).padStart(width)}/${s.lastSeq}`),
    blockedLine(s) || note,
  ];
}

/** One line per change, for logs and pipes. */
export function compactLine(s: SourceReply): string {
  const wm = s.watermarks as Record<string, number>;
  const b = blockedLine(s);
  return `${new Date().toISOString()} ${LABELS.map((l) => `${l} ${wm[l]}/${s.lastSeq}`).join('  ')}${b ? `  ${b}` : ''}`;
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description("follow a source's stage watermarks live until every record is delivered")
    .argument('<source>', 'source id', sourceArg)
    .option('--interval <ms>', 'poll interval in milliseconds', intArg(100), 1000)
    .option('--timeout <seconds>', 'give up (exit 1) after this long', intArg(1))
    .action(async (source: string, opts: { interval: number; timeout?: number }, cmd: Command) => {
      const client = apiClient(cmd);
      const json = globals(cmd).json;
      const tty = !json && process.stdout.isTTY;
      const started = Date.now();
      let drawn = 0;
      let last = '';
      let note = '';
      const show = (s: SourceReply) => {
        if (tty) {
          const lines = renderWatch(s, Date.now() - started, note);
          process.stdout.write(`${drawn ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
          drawn = lines.length;
          return;
        }
        const key = JSON.stringify([s.lastSeq, s.watermarks, s.blocked]);
        if (key === last) return;
        last = key;
        process.stdout.write(`${json ? JSON.stringify(s) : compactLine(s)}\n`);
      };
      let state = await client.get<SourceReply>(`/v1/sources/${enc(source)}`);
      for (;;) {
        show(state);
        if (isDone(state)) break;
        if (opts.timeout !== undefined && Date.now() - started > opts.timeout * 1000) {
          const wm = state.watermarks as Record<string, number>;
          throw new CliError(`not delivered within ${opts.timeout} s: delivered ${wm.delivered} of ${state.lastSeq}`);
        }
        await new Promise((r) => setTimeout(r, opts.interval));
        try {
          state = await client.get<SourceReply>(`/v1/sources/${enc(source)}`);
          note = '';
        } catch (err) {
          // The first answer proved the source exists; later blips (a restart) are shown and retried.
          if (err instanceof ApiRequestError && err.status < 500) throw err;
          note = `(${(err as Error).message}; retrying)`;
          if (!tty) process.stderr.write(`${note}\n`);
        }
      }
      if (!json) process.stdout.write(`all ${state.lastSeq} records of ${source} delivered\n`);
    });
}
