// Runs `temporal server start-dev` for one or more namespaces.
import { SEARCH_ATTRIBUTES } from '../contracts/names';

export interface DevServerOptions {
  port: number;
  /** 0 runs headless (no Web UI). */
  uiPort: number;
  /** Persist state here; omitted, state lives in memory only. */
  dbFile?: string;
  namespaces: string[];
}

export function devServerArgs(opts: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--log-level', 'warn'];
  if (opts.uiPort > 0) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.dbFile) {
    // WAL without a sync per commit: survives a killed server process (not a power cut) and is
    // several times faster than SQLite's default journal.
    args.push('--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  }
  for (const ns of opts.namespaces) args.push('--namespace', ns);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  // Idle pollers come back every 10 s instead of every minute, so a region whose workers died is
  // seen as such (no live pollers) within seconds.
  args.push('--dynamic-config-value', 'matching.longPollExpirationInterval="10s"');
  // The history service reads its transfer queue (the tasks that dispatch each workflow and
  // activity task to matching) at most 20 times a second by default: every dispatch of an idle
  // record then waits for the next 50 ms tick, about half a second over its five stages.
  args.push('--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000');
  return args;
}
