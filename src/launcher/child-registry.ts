// The processes a supervisor started, kept in <DATA_DIR>/children.json while they run. A supervisor
// killed outright (SIGKILL, the OOM killer) cannot stop them: its Node children notice and exit on
// their own, but the Temporal and UI servers keep running, holding their ports and files, and the
// next `npm start` of that folder would fail on them. That start stops them first. A process is
// known by its pid and its start time (from /proc), so a pid reused since is never signalled.
import fs from 'node:fs';
import path from 'node:path';
import { procStat } from './proc-stat';
import { waitWhile } from './wait-while';

export interface ChildEntry {
  name: string;
  pid: number;
  /** Its start time, in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  started: number;
}

export function registryFile(dataDir: string): string {
  return path.join(dataDir, 'children.json');
}

/** When the process started (ticks since boot); undefined if it is gone or there is no /proc. */
export function startTicks(pid: number): number | undefined {
  const fields = procStat(pid);
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return undefined; // gone, or exited and not yet reaped
  return Number(fields[19]);
}

/** Whether the process of this entry still runs (the same process, not a later one with its pid). */
const stillRuns = (e: ChildEntry): boolean => startTicks(e.pid) === e.started;

export class ChildRegistry {
  private readonly entries = new Map<number, ChildEntry>();

  constructor(private readonly file: string) {}

  add(name: string, pid: number | undefined): void {
    if (pid === undefined) return;
    const started = startTicks(pid);
    if (started === undefined) return; // already gone, or no /proc: nothing to find again
    this.entries.set(pid, { name, pid, started });
    this.write();
  }

  remove(pid: number | undefined): void {
    if (pid === undefined || !this.entries.delete(pid)) return;
    this.write();
  }

  /** Every child stopped: nothing to leave behind. */
  clear(): void {
    this.entries.clear();
    fs.rmSync(this.file, { force: true });
  }

  private write(): void {
    // Written whole and renamed: a supervisor killed mid-write leaves the previous list, not half of one.
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify([...this.entries.values()]));
    fs.renameSync(tmp, this.file);
  }
}

function readEntries(file: string): ChildEntry[] {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return Array.isArray(parsed)
      ? parsed.filter((e): e is ChildEntry => typeof e?.pid === 'number' && typeof e?.started === 'number' && typeof e?.name === 'string')
      : [];
  } catch {
    return []; // no file (a clean stop), or unreadable: nothing known to stop
  }
}

/**
 * Stops the processes a previous supervisor of this folder left running: SIGTERM, then SIGKILL
 * after `graceMs`. Call it holding the folder's lock (that supervisor is gone). Returns the names
 * of those that were still running.
 */
export async function stopLeftovers(file: string, graceMs = 10_000): Promise<string[]> {
  const left = readEntries(file).filter(stillRuns);
  const signal = (e: ChildEntry, sig: NodeJS.Signals) => {
    try {
      process.kill(e.pid, sig);
    } catch {
      // gone meanwhile
    }
  };
  for (const e of left) signal(e, 'SIGTERM');
  const anyRuns = () => left.some(stillRuns);
  await waitWhile(anyRuns, graceMs);
  for (const e of left.filter(stillRuns)) signal(e, 'SIGKILL');
  await waitWhile(anyRuns, 5_000);
  const stuck = left.filter(stillRuns);
  if (stuck.length) {
    throw new Error(`processes left by an earlier run do not stop: ${stuck.map((e) => `${e.name} (pid ${e.pid})`).join(', ')}`);
  }
  fs.rmSync(file, { force: true });
  return left.map((e) => e.name);
}
