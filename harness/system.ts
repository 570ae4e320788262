// Runs the real system as `npm start` does (the supervisor and all its processes) on free ports,
// with its own Temporal dev server and data folder: for the end-to-end tests and the benchmark.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { WorkerInfo } from '../src/contracts/control';
import { freePortRange } from '../src/launcher/ports';
import { procStat } from '../src/launcher/proc-stat';

export { freePortRange };

export function projectRoot(dir = __dirname): string {
  return fs.existsSync(path.join(dir, 'package.json')) ? dir : projectRoot(path.dirname(dir));
}
export const SUPERVISOR = path.join(projectRoot(), 'dist', 'src', 'launcher', 'main.js');

/**
 * The admin token of every system this process starts; api() sends it unless told otherwise. A test
 * run sets HARNESS_ADMIN_TOKEN once (test/global-setup.ts): its files share one system.
 */
export const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? process.env.HARNESS_ADMIN_TOKEN ?? randomBytes(24).toString('hex');

/**
 * A free port below the kernel's ephemeral range. A port found by listening on 0 is itself
 * ephemeral: between our check and the system's listen, any bind(0) (the dev server's internal
 * services, a worker) may take it, and the API then exits on EADDRINUSE for good.
 */
export async function freePort(): Promise<number> {
  return freePortRange(1);
}

/** The last lines of each process log, so that a CI failure to start says why. */
export function logTails(dataDir: string, lines = 15): string {
  const dir = path.join(dataDir, 'logs');
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('api') || f.startsWith('temporal'))
    .map(
      (f) =>
        `\n--- ${f} (last ${lines} lines)\n${fs.readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`,
    )
    .join('');
}

export interface System {
  url: string;
  /** The dev server both regions' namespaces live on. */
  temporalAddress: string;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
  workers(): Promise<WorkerInfo[]>;
  /** The pid of the API process (a child of the supervisor), to kill it on purpose. */
  apiPid(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  databaseUrl: string;
  env?: Record<string, string>;
  /** Node options of the supervisor, which its forked children inherit (--cpu-prof, say). */
  nodeArgs?: string[];
}

/** The environment of a system on free ports, with its own data folder (created here). */
export async function systemEnv(opts: StartOptions): Promise<NodeJS.ProcessEnv> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-e2e-'));
  const port = await freePort();
  // servers topology: west's dev server listens on TEMPORAL_PORT + 1.
  const temporalPort = await freePortRange(2);
  return {
    ...process.env,
    PORT: String(port),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: opts.databaseUrl,
    LOG_LEVEL: 'info',
    // Fixed metrics ports would collide between systems run side by side; a test that wants them
    // passes METRICS_PORT_BASE (see freePortRange).
    METRICS_PORT_BASE: '0',
    ADMIN_TOKEN,
    ...opts.env,
  };
}

const UP = 'The record pipeline is up.';
const BOOT_TIMEOUT_MS = 180_000;

/** Resolves once the supervisor's output says the system is up; rejects, with its logs, if it exits first. */
export function waitUntilUp(proc: ChildProcess, output: () => string, dataDir: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (output().includes(UP)) done();
    }, 100);
    const timer = setTimeout(
      () => fail(new Error(`system not up within ${BOOT_TIMEOUT_MS / 1000} s:\n${output()}${logTails(dataDir)}`)),
      BOOT_TIMEOUT_MS,
    );
    const exited = (code: number | null) =>
      fail(new Error(`supervisor exited (${code}) before it was up:\n${output()}${logTails(dataDir)}`));
    proc.once('exit', exited);
    function done() {
      clearInterval(check);
      clearTimeout(timer);
      proc.off('exit', exited);
      resolve();
    }
    function fail(err: Error) {
      clearInterval(check);
      clearTimeout(timer);
      proc.off('exit', exited);
      reject(err);
    }
  });
}

/** The supervisor's view of its workers (GET /v1/admin/workers). */
export async function listWorkers(url: string): Promise<WorkerInfo[]> {
  const res = await fetch(`${url}/v1/admin/workers`, { headers: authHeader(ADMIN_TOKEN) });
  return ((await res.json()) as { workers: WorkerInfo[] }).workers;
}

/** The pid of the API process, a child of the supervisor `supervisorPid`. */
export async function findApiPid(supervisorPid: number): Promise<number> {
  const ps = await promisify(execFile)('ps', ['-o', 'pid=,args=', '--ppid', String(supervisorPid)]);
  const line = ps.stdout.split('\n').find((l) => l.includes('pipeline-api'));
  if (!line) throw new Error('the API process is not running');
  return Number(line.trim().split(/\s+/)[0]);
}

export async function startSystem(opts: StartOptions): Promise<System> {
  const env = await systemEnv(opts);
  const dataDir = env.DATA_DIR!;
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), SUPERVISOR], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${env.PORT}`;
  await waitUntilUp(proc, () => out, dataDir);
  return {
    url,
    temporalAddress: `127.0.0.1:${env.TEMPORAL_PORT}`,
    env,
    dataDir,
    proc,
    output: () => out,
    workers: () => listWorkers(url),
    apiPid: () => findApiPid(proc.pid!),
    stop: () => stopProcess(proc, 30_000),
  };
}

/**
 * Stops a system a script or a test file started and removes its data folder (its logs and
 * Temporal's SQLite file; kept when KEEP_TEST_DB is set, for inspection, like the databases).
 */
export async function stopAndRemove(sys: System): Promise<void> {
  await sys.stop();
  if (!process.env.KEEP_TEST_DB) fs.rmSync(sys.dataDir, { recursive: true, force: true });
}

/** Alive and not a zombie (a detached supervisor whose parent, a jest worker, is long gone; a child its supervisor left). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const fields = procStat(pid);
  return fields ? fields[0] !== 'Z' : true; // no /proc: kill(0) is all we know
}

/** SIGTERM, then SIGKILL if the process has not exited within graceMs; resolves once it exited. */
export async function stopProcess(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const killer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(killer);
}

const authHeader = (token: string | null): Record<string, string> => (token === null ? {} : { authorization: `Bearer ${token}` });

export interface ApiOptions {
  /** The bearer token to send: the admin token by default, null for none. */
  token?: string | null;
  /** Gives up on the request (e.g. AbortSignal.timeout(ms)): the call rejects. */
  signal?: AbortSignal;
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

export async function api<T = unknown>(url: string, method: string, body?: unknown, opts: ApiOptions = {}): Promise<ApiAnswer<T>> {
  const res = await fetch(url, {
    method,
    headers: {
      ...authHeader(opts.token === undefined ? ADMIN_TOKEN : opts.token),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

/** A record as POST /v1/sources/:sourceId/records takes it. */
export interface RecordIn {
  id: string;
  payload: unknown;
}

/** The 202 answer to a submission: each record's seq, and whether it was already there. */
export interface Accepted {
  records: { id: string; seq: number; duplicate: boolean }[];
}

/**
 * Submits one batch to a source over HTTP, as the admin unless `opts.token` says otherwise. The
 * answer is returned whatever its status; a caller that wants a 202 checks for it.
 */
export function submit<T = Accepted>(
  url: string,
  sourceId: string,
  records: readonly RecordIn[],
  opts: ApiOptions = {},
): Promise<ApiAnswer<T>> {
  return api<T>(`${url}/v1/sources/${encodeURIComponent(sourceId)}/records`, 'POST', { records }, opts);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
