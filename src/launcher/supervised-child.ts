// One supervised child process: started, watched, restarted with backoff when it dies, stopped on
// request. Node children are forked (with an IPC channel); others (the Temporal server) spawned.
import fs from 'node:fs';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';

export type ChildState = 'starting' | 'running' | 'paused' | 'backoff' | 'stopping' | 'stopped';

export interface ChildSpec {
  name: string;
  /** A Node script to fork, or an executable to spawn. */
  script?: string;
  command?: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** Forked children say {type:'ready'} when up; spawned ones are running once started. */
  waitForReady: boolean;
  maxBackoffMs: number;
  /** Grace period between SIGTERM and SIGKILL. */
  stopTimeoutMs?: number;
  /** Run it at this niceness (through the `nice` program; 0 or unset: as the supervisor). */
  nice?: number;
}

export interface ChildInfo {
  name: string;
  pid: number | null;
  state: ChildState;
  restarts: number;
}

const HEALTHY_AFTER_MS = 30_000;

const NICE_PATHS = ['/usr/bin/nice', '/bin/nice'];

/** The `nice` program and its arguments for a niceness > 0; undefined where there is none (Windows). */
export function niceProgram(nice: number | undefined, paths = NICE_PATHS): { program: string; args: string[] } | undefined {
  if (!nice) return undefined;
  const program = paths.find((p) => fs.existsSync(p));
  return program ? { program, args: ['-n', String(nice)] } : undefined;
}

/** The command line that runs `command args` through `nice` (as it is without one). */
export function niceCommand(nice: ReturnType<typeof niceProgram>, command: string, args: string[]): { command: string; args: string[] } {
  return nice ? { command: nice.program, args: [...nice.args, command, ...args] } : { command, args };
}

export class SupervisedChild extends EventEmitter {
  private proc: ChildProcess | undefined;
  private state: ChildState = 'stopped';
  private restarts = 0;
  private failures = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly spec: ChildSpec) {
    super();
  }

  info(): ChildInfo {
    return { name: this.spec.name, pid: this.proc?.pid ?? null, state: this.state, restarts: this.restarts };
  }

  get process(): ChildProcess | undefined {
    return this.proc;
  }

  /** Starts the process (no-op while it runs; a paused one is resumed). Resolves once it is running (ready). */
  start(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // A paused process still exists: starting a second one beside it would be wrong.
    if (this.proc && this.state === 'paused') return this.resume();
    if (this.proc && (this.state === 'running' || this.state === 'starting')) return this.whenRunning();
    this.spawnOnce();
    return this.whenRunning();
  }

  private whenRunning(): Promise<void> {
    if (this.state === 'running') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (state: ChildState) => {
        if (state === 'running') done(resolve);
        else if (state === 'stopped') done(() => reject(new Error(`${this.spec.name} was stopped before it was ready`)));
      };
      const done = (fn: () => void) => {
        this.off('state', onState);
        fn();
      };
      this.on('state', onState);
    });
  }

  private setState(state: ChildState): void {
    this.state = state;
    this.emit('state', state);
  }

  private spawnOnce(): void {
    const out = fs.openSync(this.spec.logFile, 'a');
    const stdio: ('ignore' | number | 'ipc')[] = ['ignore', out, out];
    // Through `nice`, which execs the program: the pid, the signals and the IPC channel stay the
    // child's own, and every thread it ever starts has the lower priority.
    const nice = niceProgram(this.spec.nice);
    let proc: ChildProcess;
    if (this.spec.script) {
      proc = fork(this.spec.script, this.spec.args, {
        env: this.spec.env,
        stdio: [...stdio, 'ipc'],
        ...(nice && { execPath: nice.program, execArgv: [...nice.args, process.execPath, ...process.execArgv] }),
      });
    } else {
      const line = niceCommand(nice, this.spec.command!, this.spec.args);
      proc = spawn(line.command, line.args, { env: this.spec.env, stdio });
    }
    fs.closeSync(out);
    this.proc = proc;
    // For the supervisor's list of what runs (child-registry.ts).
    this.emit('spawned', proc.pid);
    proc.once('exit', () => this.emit('exited', proc.pid));
    this.startedAt = Date.now();
    this.setState('starting');
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.on('message', (msg: { type?: string }) => {
      if (msg?.type === 'ready' && this.state === 'starting') {
        this.setState('running');
      }
      this.emit('message', msg);
    });
    proc.once('error', (err) => this.emit('log', `${this.spec.name}: ${err.message}`));
    proc.once('exit', (code, signal) => this.onExit(proc, code, signal));
    if (!this.spec.waitForReady) this.setState('running');
  }

  private onExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.setState('stopped');
      return;
    }
    // It died on its own: restart with exponential backoff, reset once it had run a while.
    if (Date.now() - this.startedAt > HEALTHY_AFTER_MS) this.failures = 0;
    const delay = Math.min(500 * 2 ** this.failures, this.spec.maxBackoffMs);
    this.failures += 1;
    this.restarts += 1;
    this.emit('log', `${this.spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    this.setState('backoff');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state === 'backoff') this.spawnOnce();
    }, delay);
  }

  /**
   * SIGSTOP: the process hangs (a gray failure: its sockets stay open, nothing answers) until
   * resume() or start(). Only a running process can be paused.
   */
  async pause(): Promise<void> {
    if (this.state === 'paused') return;
    if (!this.proc || this.state !== 'running') throw new Error(`${this.spec.name} is ${this.state}, not running: nothing to pause`);
    this.proc.kill('SIGSTOP');
    this.setState('paused');
  }

  /** SIGCONT a paused process; a no-op otherwise, so that an undo may run after a kill or twice. */
  async resume(): Promise<void> {
    if (this.state !== 'paused' || !this.proc) return;
    this.proc.kill('SIGCONT');
    this.setState('running');
  }

  /** SIGTERM, then SIGKILL after the grace period (or SIGKILL at once). Not restarted until start(). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const proc = this.proc;
    if (!proc) {
      this.setState('stopped');
      return;
    }
    const paused = this.state === 'paused';
    this.setState('stopping');
    proc.kill(signal);
    // A stopped process acts on SIGTERM only once continued.
    if (paused) proc.kill('SIGCONT');
    const killer = setTimeout(() => proc.kill('SIGKILL'), this.spec.stopTimeoutMs ?? 10_000);
    await this.exited;
    clearTimeout(killer);
    this.setState('stopped');
  }
}
