// Pausing a supervised process (SIGSTOP) is how the chaos suite hangs a Temporal server: it must
// really stop the process, resume it as the same process, and not block a later stop.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SupervisedChild } from '../../src/launcher/supervised-child';

// The kernel's view: T is stopped, S/R is sleeping or running.
const procState = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
// A signal is delivered asynchronously: give the kernel a moment before judging.
async function stateSoon(pid: number, stopped: boolean): Promise<string> {
  for (let i = 0; i < 40 && (procState(pid) === 'T') !== stopped; i++) await new Promise((r) => setTimeout(r, 50));
  return procState(pid);
}

let dir: string;
let child: SupervisedChild;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'child-pause-'));
  child = new SupervisedChild({
    name: 'sleeper',
    command: process.execPath,
    // Handles SIGTERM itself, as the Temporal server does: a stopped process acts on it only once continued.
    args: ['-e', "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)"],
    env: process.env,
    logFile: path.join(dir, 'out.log'),
    waitForReady: false,
    maxBackoffMs: 1_000,
    stopTimeoutMs: 30_000,
  });
});
afterEach(async () => {
  await child.stop('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a supervised child paused and resumed', () => {
  it('is stopped by the kernel while paused and runs on as the same process once resumed', async () => {
    await child.start();
    const pid = child.info().pid!;
    await child.pause();
    expect(child.info()).toMatchObject({ pid, state: 'paused' });
    expect(await stateSoon(pid, true)).toBe('T');
    await child.resume();
    expect(child.info()).toMatchObject({ pid, state: 'running', restarts: 0 });
    expect(await stateSoon(pid, false)).not.toBe('T');
    // Resuming what is not paused is a no-op (an undo may come late or twice).
    await child.resume();
    expect(child.info()).toMatchObject({ pid, state: 'running' });
  });

  it('is resumed, not doubled, by start', async () => {
    await child.start();
    const pid = child.info().pid!;
    await child.pause();
    await child.start();
    expect(child.info()).toMatchObject({ pid, state: 'running', restarts: 0 });
    expect(await stateSoon(pid, false)).not.toBe('T');
  });

  it('stops gracefully while paused, without waiting for the kill timeout', async () => {
    await child.start();
    await child.pause();
    await stateSoon(child.info().pid!, true);
    const t0 = Date.now();
    await child.stop('SIGTERM');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(child.info()).toMatchObject({ pid: null, state: 'stopped' });
  });

  it('cannot pause what is not running', async () => {
    await expect(child.pause()).rejects.toThrow(/stopped, not running/);
  });
});
