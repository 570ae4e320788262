// CPU seconds of the system's processes from /proc/<pid>/stat (utime + stime, all threads): the
// project's (supervisor, API, workers), the bench database's Postgres backends, the Temporal server
// (with the real server, its own Postgres backends too).
import { execFileSync } from 'node:child_process';
import type { Pool } from '../../src/db/pool';
import { api, type System } from '../../harness/system';
import { procStat } from '../../src/launcher/proc-stat';

const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function ticks(pid: number): number {
  const f = procStat(pid);
  return f ? Number(f[11]) + Number(f[12]) : 0; // fields 14 and 15: utime, stime; 0: gone
}

export type CpuSnapshot = { project: Map<number, number>; postgres: Map<number, number>; temporal: Map<number, number> };

export interface CpuUse {
  project: number;
  postgres: number;
  temporal: number;
}

/** The pids of the Temporal dev servers the supervisor runs (after a kill: the restarted one). */
export async function temporalPids(sys: System): Promise<number[]> {
  const regions = await api<{ servers?: { pid: number | null }[] }>(`${sys.url}/v1/admin/regions`, 'GET');
  return [...new Set((regions.body.servers ?? []).map((x) => x.pid).filter((p): p is number => p !== null))];
}

/** The CPU ticks of each of these processes so far. */
export const snapPids = (pids: number[]): Map<number, number> => new Map([...new Set(pids)].map((p) => [p, ticks(p)] as const));

/** Seconds used between two snapshots of pids; a pid first seen in `after` counts all its CPU (it started in between). */
export function used(before: Map<number, number>, after: Map<number, number>): number {
  let t = 0;
  for (const [pid, v] of after) t += v - (before.get(pid) ?? 0);
  return t / TICKS_PER_S;
}

/**
 * The Temporal server's processes, and with the real server (TEMPORAL_SERVER=postgres) its Postgres
 * backends too: its databases are named after ours, and what they cost is the server's.
 */
export async function serverPids(sys: System, pool: Pool, dbName: string): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE starts_with(datname, $1 || '_temporal_')`, [
    dbName,
  ]);
  return [...(await temporalPids(sys)), ...rows.map((r) => r.pid)];
}

export async function cpuSnapshot(sys: System, pool: Pool, dbName: string): Promise<CpuSnapshot> {
  const workers = (await sys.workers()).map((w) => w.pid).filter((p): p is number => p !== null);
  const project = [sys.proc.pid!, await sys.apiPid(), ...workers];
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName]);
  return {
    project: snapPids(project),
    postgres: snapPids(rows.map((r) => r.pid)),
    temporal: snapPids(await serverPids(sys, pool, dbName)),
  };
}

/** Seconds used between two snapshots. */
export function cpuUsed(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  return {
    project: used(before.project, after.project),
    postgres: used(before.postgres, after.postgres),
    temporal: used(before.temporal, after.temporal),
  };
}
