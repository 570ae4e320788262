// The bench's minimal bare Temporal baseline: five empty activities on the worker's own task queue.
// Bundled at startup by bare-worker.ts, never part of the production workflow bundle.
import { proxyActivities } from '@temporalio/workflow';

const { empty } = proxyActivities<{ empty(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function bareWorkflow(): Promise<void> {
  for (let i = 0; i < 5; i++) await empty();
}
