// On one host the launcher runs the workers and the dev server at a lower priority than the API
// (WORKER_NICE), through `nice`: the child must still be the supervised pid, and every one of its
// threads, started before or after, must have the niceness.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { niceProgram, SupervisedChild } from '../../src/launcher/supervised-child';

// Field 19 of /proc/<pid>/stat (after the command in parentheses, it is the 17th).
const niceOf = (stat: string) => Number(stat.split(') ')[1].split(' ')[16]);
const threadNices = (pid: number) =>
  fs.readdirSync(`/proc/${pid}/task`).map((tid) => niceOf(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));

let dir: string;
let child: SupervisedChild | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'child-nice-'));
});
afterEach(async () => {
  await child?.stop('SIGKILL');
  child = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const base = () => ({ env: process.env, logFile: path.join(dir, 'out.log'), maxBackoffMs: 1_000, stopTimeoutMs: 5_000 });
/** A spawned node that idles, at `nice` (unset: the supervisor's own). */
const sleeper = (nice?: number) =>
  new SupervisedChild({
    ...base(),
    name: 'sleeper',
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1000)'],
    waitForReady: false,
    nice,
  });

describe('niceProgram', () => {
  it('is nothing for niceness 0 or where there is no nice program', () => {
    expect(niceProgram(0)).toBeUndefined();
    expect(niceProgram(undefined)).toBeUndefined();
    expect(niceProgram(7, [path.join(os.tmpdir(), 'no-such-nice')])).toBeUndefined();
    expect(niceProgram(7)).toEqual({ program: expect.stringMatching(/\/nice$/), args: ['-n', '7'] });
  });
});

describe('a supervised child with a niceness', () => {
  it('a spawned program runs as the supervised pid, its threads at that niceness', async () => {
    child = sleeper(7);
    await child.start();
    const pid = child.info().pid!;
    // nice execs the program: the pid becomes node itself.
    for (let i = 0; i < 40 && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(process.execPath); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe(process.execPath);
    await new Promise((r) => setTimeout(r, 300)); // node's own threads are up by now
    const nices = threadNices(pid);
    expect(nices.length).toBeGreaterThan(1);
    expect(new Set(nices)).toEqual(new Set([7]));
    await child.stop();
    expect(child.info().state).toBe('stopped');
  });

  it('a forked script keeps its IPC channel (it says ready) and runs at that niceness, threads it starts later too', async () => {
    const script = path.join(dir, 'ready.js');
    fs.writeFileSync(
      script,
      "const { Worker } = require('node:worker_threads');\n" +
        "new Worker('setInterval(() => {}, 1000)', { eval: true }).on('online', () => process.send({ type: 'ready' }));\n",
    );
    child = new SupervisedChild({ ...base(), name: 'forked', script, args: [], waitForReady: true, nice: 7 });
    await child.start();
    const pid = child.info().pid!;
    expect(child.info().state).toBe('running');
    const nices = threadNices(pid);
    expect(nices.length).toBeGreaterThan(2);
    expect(new Set(nices)).toEqual(new Set([7]));
  });

  it("without a niceness runs at the supervisor's own", async () => {
    child = sleeper();
    await child.start();
    expect(niceOf(fs.readFileSync(`/proc/${child.info().pid!}/stat`, 'utf8'))).toBe(os.getPriority());
  });
});
