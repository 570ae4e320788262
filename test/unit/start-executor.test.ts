// The API's start thread: answers come back to the right caller, a thread that dies fails only
// the starts it held (the relay starts them again), and the next start gets a new thread.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { issueStarts, LEASE_LOST, ThreadStartExecutor, type StartJob } from '../../src/control/start-executor';

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

describe('issueStarts', () => {
  it('issues the starts in job order with at most `concurrency` in flight, and answers in job order', async () => {
    const issued: string[] = [];
    let inFlight = 0;
    let most = 0;
    const client = {
      workflow: {
        start: async (_type: string, options: { workflowId: string }) => {
          issued.push(options.workflowId);
          most = Math.max(most, ++inFlight);
          // Later jobs finish sooner: the order of issue must not follow the order of completion.
          await new Promise((r) => setTimeout(r, 10 - Number(options.workflowId)));
          inFlight -= 1;
          if (options.workflowId === '5') throw new Error('refused');
        },
      },
    } as unknown as Client;
    const ids = ['1', '2', '3', '4', '5', '6', '7'];
    const outcomes = await issueStarts(client, ids.map(job), 3);
    expect(issued).toEqual(ids);
    expect(most).toBe(3);
    expect(outcomes).toEqual([null, null, null, null, 'refused', null, null]);
  });

  it('issues no leased start without the lease', async () => {
    const start = jest.fn(async () => undefined);
    const client = { workflow: { start } } as unknown as Client;
    const outcomes = await issueStarts(client, [{ ...job('a'), leased: true }, job('b')], 2);
    expect(outcomes).toEqual([LEASE_LOST, null]);
    expect(start).toHaveBeenCalledTimes(1);
  });
});
