// Carries out one planned fault against a running system, and says how to undo it (if it is undone
// at all: a SIGKILLed worker or API is restarted by the supervisor on its own; a paused Temporal
// server is resumed).
import type { Pool } from '../../src/db/pool';
import { api, type System } from '../../harness/system';
import type { PlannedFault } from './schedule';
import type { Doors } from './doors';

export interface Injected {
  /** What was done, for the progress line and the report. */
  detail: string;
  /** The system refused the fault (for example a failover to a region that is down). */
  refused?: boolean;
  /** Part of the fault happened but a step failed (not a refusal): counted as failed to inject. */
  failed?: boolean;
  undo?: () => Promise<void>;
}

/**
 * How long the operator waits, with the active server hung, before failing over by hand: sooner than
 * the health rounds would (each waits out a probe timeout), so the switch commits while a health
 * round is still probing the hung server. No run of the new region may be terminated by that round.
 */
export const FAILOVER_AFTER_HANG_MS = 1_500;

class Refused extends Error {}

async function post(sys: System, path: string, body?: unknown) {
  const res = await api<{ error?: string; message?: string }>(`${sys.url}${path}`, 'POST', body);
  if (res.status >= 300) {
    const message = `${path}: ${res.status} ${res.body?.error ?? ''} ${res.body?.message ?? ''}`.trim();
    // 409: the system said no (a server already down, a region already active), not a broken call.
    throw res.status === 409 ? new Refused(message) : new Error(message);
  }
}

// From Postgres, not GET /v1/admin/regions: that probes both Temporal servers and takes a probe
// timeout while one hangs, which would shift a fault's timing.
async function activeRegion(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ name: string }>('SELECT name FROM regions WHERE active');
  if (rows.length !== 1) throw new Error(`${rows.length} active regions`);
  return rows[0].name;
}

async function pidOf(sys: System, region: string, role: string): Promise<number | null> {
  const worker = (await sys.workers()).find((w) => w.region === region && w.stage === role);
  return worker?.pid ?? null;
}

export async function inject(sys: System, pool: Pool, fault: PlannedFault, doors: Doors): Promise<Injected> {
  const active = await activeRegion(pool);
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
    case 'hang-temporal-server':
      // SIGSTOP: connections stay open and nothing answers, so clients wait for their deadlines.
      try {
        await post(sys, `/v1/admin/regions/${region}/server/pause`);
      } catch (err) {
        if (err instanceof Refused) return { detail: `SIGSTOP the ${region} Temporal server refused: ${err.message}`, refused: true };
        throw err;
      }
      return { detail: `SIGSTOP the ${region} Temporal server`, undo: () => post(sys, `/v1/admin/regions/${region}/server/resume`) };
    case 'failover-while-hung': {
      // The operator's move when the active server hangs: fail over by hand before the health
      // rounds (each waiting out a probe timeout) would. Always the active server.
      const to = active === 'east' ? 'west' : 'east';
      try {
        await post(sys, `/v1/admin/regions/${active}/server/pause`);
      } catch (err) {
        if (err instanceof Refused) return { detail: `SIGSTOP the ${active} Temporal server refused: ${err.message}`, refused: true };
        throw err;
      }
      const undo = () => post(sys, `/v1/admin/regions/${active}/server/resume`);
      await new Promise((r) => setTimeout(r, FAILOVER_AFTER_HANG_MS));
      const what = `SIGSTOP the ${active} Temporal server, failover ${active} -> ${to} after ${FAILOVER_AFTER_HANG_MS} ms`;
      try {
        await post(sys, '/v1/admin/failover', { to });
        return { detail: what, undo };
      } catch (err) {
        // The server stays paused for its hold time either way; the undo resumes it.
        return {
          detail: `${what}: ${err instanceof Refused ? 'refused' : 'failed'}: ${(err as Error).message}`,
          refused: err instanceof Refused,
          failed: !(err instanceof Refused),
          undo,
        };
      }
    }
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
    case 'kill-control-holder':
    case 'pause-control-holder': {
      // The API replica running the control loops: another one must take them over within seconds,
      // and one that wakes up from a pause must do nothing with the lease it lost.
      const holder = await doors.holder();
      if (!holder) return { detail: 'no API replica holds the control role now', refused: true };
      const which = holder.url === sys.url ? "the supervisor's API" : 'the second API replica';
      if (fault.kind === 'kill-control-holder') {
        process.kill(holder.pid, 'SIGKILL');
        return { detail: `SIGKILL the control role's holder, ${which} (pid ${holder.pid})`, undo: () => doors.heal() };
      }
      process.kill(holder.pid, 'SIGSTOP');
      return {
        detail: `SIGSTOP the control role's holder, ${which} (pid ${holder.pid})`,
        undo: async () => void process.kill(holder.pid, 'SIGCONT'),
      };
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
