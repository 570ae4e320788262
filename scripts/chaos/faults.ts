// Carries out one planned fault against a running system, and says how to undo it (if it is undone
// at all: a SIGKILLed worker or API is restarted by the supervisor on its own).
import type { Pool } from '../../src/db/pool';
import { api, type System } from '../system';
import type { PlannedFault } from './schedule';

export interface Injected {
  /** What was done, for the progress line and the report. */
  detail: string;
  /** The system refused the fault (for example a failover to a region that is down). */
  refused?: boolean;
  undo?: () => Promise<void>;
}

interface Regions {
  active: string;
}

async function post(sys: System, path: string, body?: unknown) {
  const res = await api<{ error?: string; message?: string }>(`${sys.url}${path}`, 'POST', body);
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${res.body?.error ?? ''} ${res.body?.message ?? ''}`.trim());
}

async function pidOf(sys: System, region: string, role: string): Promise<number | null> {
  const worker = (await sys.workers()).find((w) => w.region === region && w.stage === role);
  return worker?.pid ?? null;
}

export async function inject(sys: System, pool: Pool, fault: PlannedFault): Promise<Injected> {
  const active = (await api<Regions>(`${sys.url}/v1/admin/regions`, 'GET')).body.active;
  const region = fault.region === 'active' ? active : active === 'east' ? 'west' : 'east';
  switch (fault.kind) {
    case 'kill-stage-worker':
    case 'kill-workflow-worker': {
      // A crash, not a stop: the supervisor restarts the process with backoff.
      const role = fault.kind === 'kill-stage-worker' ? fault.stage : 'workflows';
      const pid = await pidOf(sys, region, role);
      if (!pid) return { detail: `${region}/${role} not running`, refused: true };
      process.kill(pid, 'SIGKILL');
      return { detail: `SIGKILL ${region}/${role} (pid ${pid})` };
    }
    case 'stop-start-worker':
      await post(sys, `/v1/admin/workers/${region}/${fault.stage}/stop`);
      return { detail: `stop ${region}/${fault.stage}`, undo: () => post(sys, `/v1/admin/workers/${region}/${fault.stage}/start`) };
    case 'fail-dependency': {
      const body = (action: string) => ({ region, stage: fault.stage, action });
      await post(sys, '/v1/admin/faults', body('fail'));
      return { detail: `fail ${region}/${fault.stage} dependency`, undo: () => post(sys, '/v1/admin/faults', body('recover')) };
    }
    case 'kill-temporal-server':
      // Restarted on the same db file: the region comes back with its histories.
      await post(sys, `/v1/admin/regions/${region}/server/stop`, { signal: 'SIGKILL' });
      return { detail: `SIGKILL the ${region} Temporal server`, undo: () => post(sys, `/v1/admin/regions/${region}/server/start`) };
    case 'terminate-pg-connections': {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'pipeline-%'`,
      );
      return { detail: `pg_terminate_backend of ${rows[0].n} connections` };
    }
    case 'restart-api': {
      const pid = await sys.apiPid();
      process.kill(pid, 'SIGKILL');
      return { detail: `SIGKILL the API (pid ${pid})` };
    }
    case 'failover': {
      const to = active === 'east' ? 'west' : 'east';
      try {
        await post(sys, '/v1/admin/failover', { to });
        return { detail: `failover ${active} -> ${to}` };
      } catch (err) {
        return { detail: `failover ${active} -> ${to} refused: ${(err as Error).message}`, refused: true };
      }
    }
  }
}
