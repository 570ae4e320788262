// Inspects a region's Temporal namespace: does it answer, and for every task queue of the pipeline
// its live pollers and backlog. The health loop, /readyz and /v1/stats all read it.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time';
import { ALL_TASK_QUEUES, WORKFLOW_TASK_QUEUE } from '../contracts/names';

/**
 * An idle poller re-polls when its long poll expires (a minute by default; the dev servers here are
 * told 10 s), so "live" allows a little more than that.
 */
export const POLLER_LIVENESS_MS = 90_000;

export interface Timed {
  ok: boolean;
  latencyMs: number;
  reason?: string;
}

export interface QueueInfo extends Timed {
  name: string;
  type: 'workflow' | 'activity';
  /** Pollers seen within the liveness window. */
  pollers: number;
  /** Approximate, from the server's task queue stats; null when the server does not report them. */
  backlogCount: number | null;
  backlogAgeSeconds: number | null;
}

export interface RegionInspection {
  namespace: Timed;
  /** Empty when the namespace did not answer. */
  queues: QueueInfo[];
}

export interface RegionProbe {
  namespaceOk: boolean;
  reason?: string;
  pollers: Record<string, number>;
  missingPollers: string[];
}

const since = (started: number) => Math.round(performance.now() - started);
const toNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

async function describeQueue(client: Client, namespace: string, queue: string, now: number, livenessMs: number): Promise<QueueInfo> {
  const type = queue === WORKFLOW_TASK_QUEUE ? 'workflow' : 'activity';
  const started = performance.now();
  try {
    const res = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType:
        type === 'workflow'
          ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
          : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      // Servers >= 1.27 answer `stats` (count and age); older ones only the status's count hint.
      reportStats: true,
      includeTaskQueueStatus: true,
    });
    const pollers = (res.pollers ?? []).filter((p) => p.lastAccessTime && now - tsToMs(p.lastAccessTime) < livenessMs).length;
    const stats = res.stats;
    const backlogCount = stats ? (toNumber(stats.approximateBacklogCount) ?? 0) : toNumber(res.taskQueueStatus?.backlogCountHint);
    const backlogAgeSeconds = stats ? (stats.approximateBacklogAge ? tsToMs(stats.approximateBacklogAge) / 1000 : 0) : null;
    return {
      name: queue,
      type,
      ok: pollers > 0,
      latencyMs: since(started),
      pollers,
      backlogCount,
      backlogAgeSeconds,
      ...(pollers > 0 ? {} : { reason: 'no live pollers' }),
    };
  } catch (err) {
    return {
      name: queue,
      type,
      ok: false,
      latencyMs: since(started),
      pollers: 0,
      backlogCount: null,
      backlogAgeSeconds: null,
      reason: (err as Error).message,
    };
  }
}

export async function inspectRegion(
  client: Client,
  namespace: string,
  now = Date.now(),
  livenessMs = POLLER_LIVENESS_MS,
): Promise<RegionInspection> {
  const started = performance.now();
  try {
    await client.workflowService.describeNamespace({ namespace });
  } catch (err) {
    return { namespace: { ok: false, latencyMs: since(started), reason: `namespace ${namespace}: ${(err as Error).message}` }, queues: [] };
  }
  const nsCheck = { ok: true, latencyMs: since(started) };
  const queues = await Promise.all(ALL_TASK_QUEUES.map((q) => describeQueue(client, namespace, q, now, livenessMs)));
  return { namespace: nsCheck, queues };
}

/** The health loop's summary of an inspection. */
export function summarize(inspection: RegionInspection): RegionProbe {
  const pollers = Object.fromEntries(inspection.queues.map((q) => [q.name, q.pollers]));
  if (!inspection.namespace.ok) {
    return { namespaceOk: false, reason: inspection.namespace.reason, pollers, missingPollers: [...ALL_TASK_QUEUES] };
  }
  return { namespaceOk: true, pollers, missingPollers: ALL_TASK_QUEUES.filter((q) => !pollers[q]) };
}
