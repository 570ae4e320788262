// The region router, the failover "DNS": probes the active region, fails over to a healthy standby
// after consecutive failures (FAILOVER=auto), runs the switch by hand, and ends the workflows left
// running in regions that are no longer active ("superseded"). Its health rounds, automatic
// failovers and terminations run in the control role's holder only, so one process decides; an
// automatic failover also waits out a cooldown after the last switch, so regions never flap.
// Probes and operators' switches work in every replica.
import type { Logger } from '../logger';
import type { Pool } from '../db/pool';
import { failover, FailoverRefused } from '../db/failover';
import type { FailoverResult, RegionHealth } from '../contracts/failover';
import { listRegions, type RegionRow } from '../db/regions';
import type { TemporalClients } from '../temporal/clients';
import { inspectRegion, summarize, type RegionInspection } from '../temporal/probe';
import { parseRecordWorkflowId, RECORD_WORKFLOW_TYPE } from '../contracts/names';
import { finishedAmong } from '../db/relay-queries';
import { HealthTally } from './health-tally';
import { NO_LEASE, type LeaseView } from './lease';
import { Periodic } from './periodic';

export interface RouterOptions {
  pool: Pool;
  temporal: TemporalClients;
  logger: Logger;
  mode: 'auto' | 'manual';
  intervalMs: number;
  threshold: number;
  pollerLivenessMs: number;
  /** After this process starts, how long a region not yet seen healthy may lack pollers before it counts (see health-tally.ts). */
  startupGraceMs: number;
  /** Runs recovery: starts every open record's workflow in the (new) active region. */
  recover: () => Promise<unknown>;
  /** No automatic failover within this long of the last switch. */
  cooldownMs?: number;
  /** A switch that cannot get the region lock within this long is refused (FailoverBusy); default 10 s. */
  deadlineMs?: number;
  /** The control lease: health rounds, automatic failovers and terminations only while it is held. */
  lease?: LeaseView;
}

const PROBE_TIMEOUT_MS = 3_000;

export class RegionRouter {
  private tally: HealthTally;
  /** The active epoch the tally counts for: a switch (by any replica) starts the count again. */
  private tallyEpoch: number | undefined;
  private readonly loop: Periodic;
  private switching: Promise<FailoverResult> | undefined;
  failovers = 0;

  constructor(private readonly opts: RouterOptions) {
    this.tally = new HealthTally(opts.threshold, opts.startupGraceMs, performance.now());
    this.loop = new Periodic(opts.intervalMs, () =>
      this.checkOnce().catch((err) => this.opts.logger.warn({ err: (err as Error).message }, 'health round failed')),
    );
  }

  /** Namespace and every task queue of a region, each timed; a region that cannot be reached has no queues. */
  async inspect(row: RegionRow): Promise<RegionInspection & { address: string; namespaceName: string }> {
    const rc = this.opts.temporal.region(row.name);
    const started = performance.now();
    try {
      const client = await this.opts.temporal.client(row.name);
      const inspection = await client.connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
        inspectRegion(client, rc.namespace, Date.now(), this.opts.pollerLivenessMs),
      );
      return { ...inspection, address: rc.address, namespaceName: rc.namespace };
    } catch (err) {
      const reason = `temporal at ${rc.address}: ${(err as Error).message}`;
      return {
        namespace: { ok: false, latencyMs: Math.round(performance.now() - started), reason },
        queues: [],
        address: rc.address,
        namespaceName: rc.namespace,
      };
    }
  }

  async probe(row: RegionRow): Promise<RegionHealth> {
    return (await this.assess(row)).health;
  }

  /** The region's health, and whether its server answered (then only pollers can be missing). */
  private async assess(row: RegionRow): Promise<{ health: RegionHealth; reachable: boolean }> {
    const inspection = await this.inspect(row);
    const base = { name: row.name, namespace: inspection.namespaceName, address: inspection.address, active: row.active };
    const probe = summarize(inspection);
    if (!probe.namespaceOk) return { health: { ...base, healthy: false, reason: probe.reason, pollers: probe.pollers }, reachable: false };
    const healthy = probe.missingPollers.length === 0;
    const health = {
      ...base,
      healthy,
      pollers: probe.pollers,
      ...(healthy ? {} : { reason: `no live pollers on ${probe.missingPollers.join(', ')}` }),
    };
    return { health, reachable: true };
  }

  async status(): Promise<{ active: string; epoch: number; mode: string; regions: RegionHealth[] }> {
    const rows = await listRegions(this.opts.pool);
    const regions = await Promise.all(rows.map((r) => this.probe(r)));
    const active = rows.find((r) => r.active);
    return { active: active?.name ?? 'none', epoch: active?.epoch ?? 0, mode: this.opts.mode, regions };
  }

  /**
   * Switches to `to` (one switch at a time in this process; the database serialises processes).
   * `automatic`: the router's own decision, made under the lease and the cooldown. Recovery runs
   * here when this process holds the role; otherwise the holder's next relay pass re-drives.
   */
  async failover(to: string, reason: string, automatic?: { leaseToken: number; cooldownMs?: number }): Promise<FailoverResult> {
    while (this.switching) await this.switching.catch(() => undefined);
    this.switching = (async () => {
      const result = await failover(this.opts.pool, to, { deadlineMs: this.opts.deadlineMs, ...automatic });
      this.failovers += 1;
      this.tally.reset();
      this.opts.logger.warn({ ...result, reason }, 'failed over');
      // Recovery runs in the background; the relay loop also picks up whatever it leaves.
      this.opts.recover().catch((err) => this.opts.logger.error({ err: (err as Error).message }, 'recovery pass failed'));
      return result;
    })();
    try {
      return await this.switching;
    } finally {
      this.switching = undefined;
    }
  }

  /** One health round: probe the active region; fail over after `threshold` failures in a row. */
  async checkOnce(): Promise<void> {
    if (!this.lease.held()) return;
    const rows = await listRegions(this.opts.pool);
    const active = rows.find((r) => r.active);
    if (!active) return;
    if (this.tallyEpoch !== active.epoch) this.tally.reset();
    this.tallyEpoch = active.epoch;
    const { health, reachable } = await this.assess(active);
    const round = this.tally.record({ region: active.name, healthy: health.healthy, reachable }, performance.now());
    if (round.verdict === 'starting') {
      this.opts.logger.info({ region: active.name, reason: health.reason }, 'active region not polling yet; its workers may be starting');
    } else if (round.verdict === 'failed') {
      this.opts.logger.warn({ region: active.name, failures: round.failures, reason: health.reason }, 'active region unhealthy');
      if (this.opts.mode === 'auto' && round.failover) {
        const standby = rows.find((r) => !r.active);
        const token = this.lease.token();
        if (standby && token !== null && (await this.probe(standby)).healthy) {
          await this.failover(standby.name, `automatic: ${health.reason}`, { leaseToken: token, cooldownMs: this.opts.cooldownMs }).catch(
            (err) =>
              this.opts.logger.warn(
                { err: (err as Error).message, code: err instanceof FailoverRefused ? err.code : undefined },
                'automatic failover refused',
              ),
          );
        }
      }
    }
    await this.supersede();
  }

  /**
   * Terminates record workflows still running in regions that are not active (when reachable).
   * The rows are read here, not at the start of the health round: a probe of a hung server takes up
   * to PROBE_TIMEOUT_MS, and a failover committed meanwhile makes the standby active, whose fresh
   * runs (started by recovery) are no zombies. Only runs started before the region's row last
   * changed are candidates, and the epoch is read again before they are terminated.
   */
  async supersede(): Promise<number> {
    let ended = 0;
    if (!this.lease.held()) return 0;
    const rows = await listRegions(this.opts.pool);
    const active = rows.find((r) => r.active);
    for (const row of rows.filter((r) => !r.active && r.updatedAt)) {
      try {
        const client = await this.opts.temporal.client(row.name);
        const query = `WorkflowType = "${RECORD_WORKFLOW_TYPE}" AND ExecutionStatus = "Running" AND StartTime < "${row.updatedAt!.toISOString()}"`;
        const zombies: { workflowId: string; runId: string }[] = [];
        for await (const wf of client.workflow.list({ query, pageSize: 200 })) {
          zombies.push({ workflowId: wf.workflowId, runId: wf.runId });
          if (zombies.length >= 200) break;
        }
        if (!zombies.length) continue;
        // A run whose record is already delivered (or skipped) is left to end on its own: its next
        // stage write is fenced (it ends superseded) or it completes. Ending it would show a
        // terminated run of the epoch that delivered the record.
        const keys = zombies.map((z) => parseRecordWorkflowId(z.workflowId)).filter((k) => k !== null);
        const finished = await finishedAmong(this.opts.pool, keys);
        const live = zombies.filter((z) => {
          const k = parseRecordWorkflowId(z.workflowId);
          return !k || !finished.has(`${k.source_id}\u0000${k.seq}`);
        });
        const now = (await listRegions(this.opts.pool)).find((r) => r.name === row.name);
        if (!now || now.active || now.epoch !== row.epoch) continue; // a failover since the read: next round
        for (const z of live) {
          if (!this.lease.held()) break;
          await client.workflow
            .getHandle(z.workflowId, z.runId)
            .terminate(`superseded: ${active?.name} is active at epoch ${active?.epoch}; this region's work was re-driven there`)
            .catch(() => undefined);
          ended += 1;
        }
      } catch {
        // unreachable: try again next round (it may come back)
      }
    }
    if (ended) this.opts.logger.info({ ended }, 'superseded workflows of inactive regions');
    return ended;
  }

  private get lease(): LeaseView {
    return this.opts.lease ?? NO_LEASE;
  }

  /** On taking the control role: count health rounds afresh (another process counted until now). */
  takeOver(): void {
    this.tally = new HealthTally(this.opts.threshold, this.opts.startupGraceMs, performance.now());
    this.tallyEpoch = undefined;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
