// Build step after tsc: copy the SQL migrations and bundle the workflow code once.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main() {
  const root = path.resolve(__dirname, '..', '..');
  const from = path.join(root, 'src', 'db', 'migrations');
  const to = path.join(root, 'dist', 'src', 'db', 'migrations');
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));

  const workflowsPath = path.join(root, 'dist', 'src', 'workflows', 'index.js');
  const logger = { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} };
  const { code } = await bundleWorkflowCode({ workflowsPath, logger });
  fs.writeFileSync(path.join(root, 'dist', 'workflow-bundle.js'), code);
  // A second bundle with Temporal's OpenTelemetry workflow interceptors, which the workflow worker
  // loads only when tracing is on: with tracing off the interceptors are not even in its code.
  const traced = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    logger,
  });
  fs.writeFileSync(path.join(root, 'dist', 'workflow-bundle-traced.js'), traced.code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
