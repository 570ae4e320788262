// Temporal dev servers for the test files (the CLI comes from the global setup, TEMPORAL_CLI).
import { spawn } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { SA } from '../../src/contracts/names';
import { devServerArgs } from '../../src/launcher/dev-server-args';
import { waitForServer } from '../../src/temporal/setup';
import { freePort } from '../../harness/system';

/** The CLI the global setup found or built (test/global-setup.ts, ensureTemporalCli). */
function temporalCli(): string {
  return process.env.TEMPORAL_CLI ?? 'temporal';
}

/** A dev server with several namespaces, started as the launcher starts it (devServerArgs). */
export async function startDevServer(namespaces: string[]): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = spawn(temporalCli(), devServerArgs({ port, uiPort: 0, namespaces }), { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  const connection = await waitForServer(address);
  await connection.close();
  return {
    address,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The SDK's runtime for a test file's in-process workers: no log lines, the core's errors only. */
export function installQuietRuntime(): void {
  Runtime.install({
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
}

/**
 * @temporalio/testing's environment on a local dev server of one namespace (the same CLI; the SDK
 * downloads nothing), with the search attributes the record workflow upserts registered.
 * `env.client` talks to that namespace; workers connect with `env.nativeConnection`.
 */
export function createTestEnv(
  namespace: string,
  dynamicConfig: Record<string, number | string | boolean> = {},
): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli() },
      namespace,
      searchAttributes: Object.values(SA),
      // No banner (version, address) on the test output; the server's dynamic settings a test asks for.
      extraArgs: [
        '--output',
        'none',
        ...Object.entries(dynamicConfig).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]),
      ],
    },
  });
}
