// The harness (harness/system.ts: startSystem, submit, api, waitFor, freePort...), and the system the
// end-to-end files that leave it as they found it share (harness/shared-system.ts).
import { sharedSystem as shared, type SharedSystem } from '../../harness/shared-system';

export * from '../../harness/system';
export type { SharedSystem } from '../../harness/shared-system';

/**
 * The shared system's settings: what each of its files needs, none of which another one minds.
 * ACTIVITY_TIMEOUT_MS: a killed or stopped worker's task comes back within 3 s (gate, cli, pipeline);
 * GATE_NUDGE_SECONDS and RELAY_INTERVAL_MS: the sweeper's nudge and the relay act within the gate
 * test's waits; STAGE_DELAY_MS: records are still in flight when pipeline's worker is killed;
 * RETRY_MAX_INTERVAL_MS: a stage whose dependency has recovered is retried within 2 s (gate, cli, ui);
 * WEBHOOK_*: the webhook test's receiver is on loopback, and its failures are retried within 2 s.
 */
export const SHARED_ENV: Record<string, string> = {
  ACTIVITY_TIMEOUT_MS: '3000',
  GATE_NUDGE_SECONDS: '3',
  RELAY_INTERVAL_MS: '500',
  STAGE_DELAY_MS: '10',
  RETRY_MAX_INTERVAL_MS: '2000',
  // The webhook test's receiver listens on loopback; its failed calls are tried again within 2 s.
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_MAX_BACKOFF_MS: '2000',
};

/**
 * The run's shared system (booted by the first file that asks, with the Web UI on): the files
 * that use it leave it running, in region east, every worker running, every fault recovered, and
 * keep to source ids of their own; the run's global teardown stops it.
 */
export function sharedSystem(): Promise<SharedSystem> {
  const stateDir = process.env.HARNESS_SHARED_DIR;
  const serverUrl = process.env.TEST_DATABASE_URL;
  const runPid = Number(process.env.HARNESS_RUN_PID);
  if (!stateDir || !serverUrl || !runPid) throw new Error('the shared system needs the test run of jest (test/global-setup.ts)');
  return shared({
    stateDir,
    serverUrl,
    template: process.env.TEST_TEMPLATE_DB,
    env: SHARED_ENV,
    ui: true,
    runPid,
  });
}
