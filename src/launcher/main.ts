// `npm start`: node dist/src/launcher/main.js. Runs the supervisor until SIGINT or SIGTERM.
import { loadConfig } from '../config';
import { say } from './say';
import { Supervisor } from './supervisor';

process.title = 'pipeline-supervisor';
// A terminal that is gone (closed, its ssh session dropped, a parent that died) must not end the
// supervisor on its next line: it would exit mid-shutdown and leave the servers and workers running.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
let supervisor: Supervisor | undefined;
const stop = (code: number) => {
  void (supervisor?.shutdown() ?? Promise.resolve()).finally(() => process.exit(code));
};
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
try {
  supervisor = new Supervisor(loadConfig());
} catch (err) {
  say((err as Error).message);
  process.exit(2);
}
supervisor.run().catch((err) => {
  say(`failed to start: ${(err as Error).message}`);
  stop(1);
});
