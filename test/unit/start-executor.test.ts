// The API's start thread: answers come back to the right caller, a thread that dies fails only
// the starts it held (the relay starts them again), and the next start gets a new thread.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inOrderLimited, ThreadStartExecutor, type StartJob } from '../../src/control/start-executor';

let dir: string;
let executor: ThreadStartExecutor;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-executor-'));
  // A stand-in for start-thread.js that speaks its protocol: a job whose workflow id is 'die' kills it.
  fs.writeFileSync(
    path.join(dir, 'thread.js'),
    `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (msg) => {
  if (msg.type === 'close') process.exit(0);
  if (msg.jobs.some((j) => j.options.workflowId === 'die')) process.exit(3);
  if (msg.region === 'down') return parentPort.postMessage({ type: 'failed', id: msg.id, error: 'unreachable' });
  setTimeout(() => parentPort.postMessage({ type: 'done', id: msg.id, outcomes: msg.jobs.map((j) => (j.options.workflowId.startsWith('bad') ? 'refused' : null)) }), 20 - msg.jobs.length);
});
`,
  );
  executor = new ThreadStartExecutor(path.join(dir, 'thread.js'));
});
afterAll(async () => {
  await executor.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const job = (workflowId: string) => ({ options: { workflowId }, attrs: {} }) as unknown as StartJob;

describe('ThreadStartExecutor', () => {
  it('gives each caller its own outcomes, in job order', async () => {
    const [a, b] = await Promise.all([
      executor.start('east', [job('a1'), job('bad2'), job('a3')], 4),
      executor.start('east', [job('bad1')], 4),
    ]);
    expect(a).toEqual([null, 'refused', null]);
    expect(b).toEqual(['refused']);
    await expect(executor.start('down', [job('x')], 4)).rejects.toThrow('unreachable');
    expect(await executor.start('east', [], 4)).toEqual([]);
  });

  it('fails the starts a dead thread held, and starts a new thread for the next', async () => {
    await expect(executor.start('east', [job('die')], 4)).rejects.toThrow(/start thread exited \(3\)/);
    expect(await executor.start('east', [job('after')], 4)).toEqual([null]);
  });
});

describe('inOrderLimited', () => {
  it('issues in order with at most `limit` in flight', async () => {
    const issued: number[] = [];
    let inFlight = 0;
    let most = 0;
    await inOrderLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      issued.push(n);
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 10 - n));
      inFlight -= 1;
    });
    expect(issued).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });
});
