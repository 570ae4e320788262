// Operator commands on the admin API: the process table, injected faults, failover.
import { Argument, type Command } from 'commander';
import { REGIONS, STAGES } from '../../contracts/names';
import { apiClient, globals } from '../context';
import { formatTable, print, printJson } from '../output';

interface WorkersReply {
  supervised: boolean;
  workers: Record<string, unknown>[];
}

export function registerAdmin(program: Command): void {
  program
    .command('workers')
    .description('the worker processes: region, stage, pid, state, restarts')
    .action(async (_opts: unknown, cmd: Command) => {
      const reply = await apiClient(cmd).get<WorkersReply>('/v1/admin/workers');
      if (globals(cmd).json) return printJson(reply);
      // Fixed columns first, then whatever else the API reports (metrics ports, ...).
      const first = ['region', 'stage', 'pid', 'state', 'restarts'];
      const extra = [...new Set(reply.workers.flatMap((w) => Object.keys(w)))].filter((k) => !first.includes(k) && k !== 'title');
      print(formatTable(reply.workers, [...first, ...extra]));
      if (!reply.supervised) print("(not run by this API's supervisor: states are what the API can see)");
    });

  for (const action of ['fail', 'recover'] as const) {
    program
      .command(action)
      .description(
        action === 'fail'
          ? "make a stage's dependency fail in a region (its activities retry until recover)"
          : "end an injected failure of a stage's dependency",
      )
      .addArgument(new Argument('<region>', 'region').choices(REGIONS))
      .addArgument(new Argument('<stage>', 'stage').choices(STAGES))
      .action(async (region: string, stage: string, _opts: unknown, cmd: Command) => {
        const reply = await apiClient(cmd).post<{ region: string; stage: string; failed: boolean }>('/v1/admin/faults', {
          region,
          stage,
          action,
        });
        if (globals(cmd).json) return printJson(reply);
        print(
          `${reply.region}/${reply.stage}: ${reply.failed ? 'dependency failing (records wait at this stage, in order)' : 'dependency recovered'}`,
        );
      });
  }

  program
    .command('failover')
    .description('make a region active: new epoch, the old region fenced, open records re-driven there')
    .argument('<region>', 'the region to make active')
    .action(async (region: string, _opts: unknown, cmd: Command) => {
      const reply = await apiClient(cmd).post<{ from: string; to: string; epoch: number; fencedSessions: number }>('/v1/admin/failover', {
        to: region,
      });
      if (globals(cmd).json) return printJson(reply);
      print(`active region ${reply.from} -> ${reply.to}, epoch ${reply.epoch} (${reply.fencedSessions} fenced sessions ended)`);
    });
}
