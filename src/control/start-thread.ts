// The start thread of the API process (see start-executor.ts): workflow starts issued with its
// own Temporal clients, over the SDK's native connection, traced as the API.
import { parentPort, workerData } from 'node:worker_threads';
import { startTracing, stopTracing } from '../telemetry/tracing';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { TemporalClients } from '../temporal/clients';
import { nativeConnect } from '../temporal/native-connection';
import { installRuntime } from '../temporal/runtime';
import { issueStarts, type FromStartThread, type LeaseDeadline, type ToStartThread } from './start-executor';

startTracing('record-pipeline-api');
const port = parentPort!;
const config = loadConfig();
// The native connection's runtime, its own log lines through pino like the rest of the API's.
installRuntime(createLogger('api', { thread: 'starts' }, config), undefined, {});
const clients = new TemporalClients(config.regions, nativeConnect);
const inFlight = new Set<Promise<void>>();
const lease = (workerData as { lease?: LeaseDeadline } | null)?.lease;

port.on('message', (msg: ToStartThread) => {
  if (msg.type === 'close') {
    void Promise.all(inFlight)
      .then(() => clients.close())
      .then(stopTracing)
      .finally(() => process.exit(0)); // in a worker thread: ends this thread
    return;
  }
  const run = clients
    .client(msg.region)
    .then((client) => issueStarts(client, msg.jobs, msg.concurrency, lease))
    .then(
      (outcomes): FromStartThread => ({ type: 'done', id: msg.id, outcomes }),
      (err): FromStartThread => ({ type: 'failed', id: msg.id, error: (err as Error).message }),
    )
    .then((reply) => port.postMessage(reply));
  inFlight.add(run);
  void run.finally(() => inFlight.delete(run));
});
