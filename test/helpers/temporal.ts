// A Temporal dev server of its own for a test file (the CLI comes from the global setup).
import { spawn } from 'node:child_process';
import { devServerArgs } from '../../src/launcher/dev-server-args';
import { waitForServer } from '../../src/temporal/setup';
import { freePort } from '../../scripts/system';

export async function startDevServer(namespaces: string[]): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = spawn(process.env.TEMPORAL_CLI ?? 'temporal', devServerArgs({ port, uiPort: 0, namespaces }), { stdio: 'ignore' });
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
