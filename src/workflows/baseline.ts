// The benchmark's baseline: five empty activities on the stage task queues, no gate, no Postgres.
// It measures what Temporal alone costs on the same server, for the pipeline/baseline ratio.
import { proxyActivities } from '@temporalio/workflow';
import type { NoopActivities } from '../activities/noop';
import { STAGES, stageTaskQueue } from '../contracts/names';

export async function baselineWorkflow(): Promise<void> {
  for (const stage of STAGES) {
    const { noop } = proxyActivities<NoopActivities>({ taskQueue: stageTaskQueue(stage), startToCloseTimeout: '10s' });
    await noop();
  }
}
