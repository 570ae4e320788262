// The supervisor's list of its running children, and how a later start stops what a killed
// supervisor left running: with real processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ChildRegistry, startTicks, stopLeftovers } from '../../src/launcher/child-registry';

let dir: string;
let file: string;
const procs: ChildProcess[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'child-registry-'));
  file = path.join(dir, 'children.json');
});
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A long-running child; `ignoreTerm`: one that shrugs off SIGTERM, as a hung server would. */
function runner(ignoreTerm = false): ChildProcess {
  const code = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000);`;
  const p = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  procs.push(p);
  return p;
}

const exited = (p: ChildProcess) =>
  new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
const running = (p: ChildProcess) => startTicks(p.pid!) !== undefined;

describe('the child registry', () => {
  it('lists running children in a file, and forgets those that exit and all of them on clear', () => {
    const a = runner();
    const b = runner();
    const registry = new ChildRegistry(file);
    registry.add('a', a.pid);
    registry.add('b', b.pid);
    const listed = () => (JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string }[]).map((e) => e.name);
    expect(listed()).toEqual(['a', 'b']);
    registry.remove(a.pid);
    expect(listed()).toEqual(['b']);
    registry.clear();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('stops what a killed supervisor left running, with SIGKILL for one that ignores SIGTERM', async () => {
    const polite = runner();
    const stubborn = runner(true);
    await new Promise((r) => setTimeout(r, 300)); // the stubborn one's handler is in place
    const registry = new ChildRegistry(file);
    registry.add('polite', polite.pid);
    registry.add('stubborn', stubborn.pid);
    // The supervisor is gone: only the file says what it ran.
    expect(await stopLeftovers(file, 500)).toEqual(['polite', 'stubborn']);
    await Promise.all([exited(polite), exited(stubborn)]);
    expect(polite.signalCode).toBe('SIGTERM');
    expect(stubborn.signalCode).toBe('SIGKILL');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('never signals a process that only has the pid of one it ran', async () => {
    const other = runner();
    // Its pid, but another start time: the listed process ended and the pid was given out again.
    fs.writeFileSync(file, JSON.stringify([{ name: 'server', pid: other.pid, started: startTicks(other.pid!)! - 1 }]));
    expect(await stopLeftovers(file, 500)).toEqual([]);
    expect(running(other)).toBe(true);
  });

  it('has nothing to stop after a clean stop (no file) or with an unreadable file', async () => {
    expect(await stopLeftovers(file)).toEqual([]);
    fs.writeFileSync(file, '{not json');
    expect(await stopLeftovers(file)).toEqual([]);
  });
});
