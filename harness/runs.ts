// What Temporal ran for each delivered record, read from both regions' visibility and checked
// against the deliveries table: each record's workflow ran once at the epoch that delivered it (no
// second completed run, no run of that epoch terminated). Runs of older epochs are another matter:
// a failover supersedes them (the router terminates them, or they end as `superseded`).
import { Client, Connection } from '@temporalio/client';
import type { Pool } from '../src/db/pool';
import { defaultNamespace, RECORD_WORKFLOW_TYPE, REGIONS } from '../src/contracts/names';
import type { RecordWorkflowInput } from '../src/contracts/record.messages';

interface Run {
  runId: string;
  status: string;
}

export interface RunFinding {
  /** Records whose delivering region holds a run other than its one completed run (after the drain). */
  offenders: string[];
  /** Runs still listed as running for a delivered record (visibility lags: ask again a moment later). */
  running: number;
}

/**
 * For every delivered record of `sources`: in the region that delivered it, exactly one completed
 * run of the delivering epoch, and no terminated run of that epoch. `strict`: no terminated run of
 * any epoch in that region either (a scenario without a failback to a region left with zombies).
 */
export async function checkRuns(
  pool: Pool,
  sources: string[],
  addresses: Record<string, string>,
  opts: { strict?: boolean } = {},
): Promise<RunFinding> {
  const { rows } = await pool.query<{ source_id: string; seq: number; region: string; epoch: number }>(
    'SELECT source_id, seq::int, region, epoch::int FROM deliveries WHERE source_id = ANY($1)',
    [sources],
  );
  const finding: RunFinding = { offenders: [], running: 0 };
  for (const region of REGIONS) {
    const delivered = rows.filter((r) => r.region === region);
    if (!delivered.length) continue;
    const connection = await Connection.connect({ address: addresses[region] });
    try {
      const client = new Client({ connection, namespace: defaultNamespace(region) });
      const runs = new Map<string, Run[]>();
      const query = `WorkflowType = "${RECORD_WORKFLOW_TYPE}" AND SourceId IN (${sources.map((s) => `"${s}"`).join(', ')})`;
      for await (const wf of client.workflow.list({ query, pageSize: 1000 })) {
        runs.set(wf.workflowId, [...(runs.get(wf.workflowId) ?? []), { runId: wf.runId, status: wf.status.name }]);
      }
      // A run's epoch is in its input (the first event of its history): read only where it matters.
      const epochOf = async (workflowId: string, runId: string) => {
        const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
        const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
        return input ? (JSON.parse(Buffer.from(input).toString('utf8')) as RecordWorkflowInput).epoch : undefined;
      };
      for (const d of delivered) {
        const id = `record:${d.source_id}:${d.seq}`;
        const all = (runs.get(id) ?? []).filter((r) => r.status !== 'CONTINUED_AS_NEW');
        finding.running += all.filter((r) => r.status === 'RUNNING').length;
        const others = all.filter((r) => r.status !== 'COMPLETED' || all.filter((x) => x.status === 'COMPLETED').length > 1);
        if (all.filter((r) => r.status === 'COMPLETED').length === 1 && others.length === 0) continue;
        if (opts.strict) {
          finding.offenders.push(`${id} in ${region}: ${all.map((r) => r.status).join(', ') || 'no run'}`);
          continue;
        }
        const atEpoch = [];
        for (const r of all) if ((await epochOf(id, r.runId)) === d.epoch) atEpoch.push(r.status);
        if (atEpoch.length !== 1 || atEpoch[0] !== 'COMPLETED') {
          finding.offenders.push(`${id} in ${region} at epoch ${d.epoch}: ${atEpoch.join(', ') || 'no run'}`);
        }
      }
    } finally {
      await connection.close();
    }
  }
  return finding;
}
