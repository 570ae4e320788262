// One dedicated worker process for the bench's bare Temporal baseline: its own task queue, a workflow
// of five empty activities (bare-workflow.ts, bundled here at startup). Spawned by scripts/bench.ts:
//   node dist/scripts/bench/bare-worker.js <temporal address> <namespace> <task queue>
// Prints "ready" once polling; stops on SIGTERM.
import path from 'node:path';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker } from '@temporalio/worker';

async function main() {
  const [address, namespace, taskQueue] = process.argv.slice(2);
  Runtime.install({ logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'bare-workflow.js'),
    logger: { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} },
  });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle: { code },
    activities: { async empty() {} },
  });
  process.once('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
