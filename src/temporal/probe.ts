// Probes a region: does its namespace answer, and does every task queue have live pollers?
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time';
import { ALL_TASK_QUEUES, WORKFLOW_TASK_QUEUE } from '../names';

/**
 * An idle poller re-polls when its long poll expires (a minute by default; the dev servers here are
 * told 10 s), so "live" allows a little more than that.
 */
export const POLLER_LIVENESS_MS = 90_000;

export interface RegionProbe {
  namespaceOk: boolean;
  reason?: string;
  pollers: Record<string, number>;
  missingPollers: string[];
}

export async function probeRegion(client: Client, namespace: string, now = Date.now(), livenessMs = POLLER_LIVENESS_MS): Promise<RegionProbe> {
  const pollers: Record<string, number> = {};
  try {
    await client.workflowService.describeNamespace({ namespace });
  } catch (err) {
    return { namespaceOk: false, reason: `namespace ${namespace}: ${(err as Error).message}`, pollers, missingPollers: [...ALL_TASK_QUEUES] };
  }
  await Promise.all(
    ALL_TASK_QUEUES.map(async (queue) => {
      const res = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType:
          queue === WORKFLOW_TASK_QUEUE
            ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
            : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      pollers[queue] = (res.pollers ?? []).filter(
        (p) => p.lastAccessTime && now - tsToMs(p.lastAccessTime) < livenessMs,
      ).length;
    }),
  );
  const missingPollers = ALL_TASK_QUEUES.filter((q) => !pollers[q]);
  return { namespaceOk: true, pollers, missingPollers };
}
