// A process's /proc/<pid>/stat, from its third field (the state) on: the command's name before it
// is in parentheses and may hold spaces, so the line is cut at the last ')'.
import fs from 'node:fs';

/** The fields from the state on (index 0: field 3); undefined if the process is gone or there is no /proc. */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
