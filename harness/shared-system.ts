// One system shared by several test files in turn: booting the whole system (a Temporal dev server,
// the API and 12 workers) is the slowest step of an end-to-end file, and the files that leave the
// system as they found it (no failover, no killed server) need not each boot their own. The first
// file that asks boots it detached from its jest worker and writes where it runs into the run's
// state folder; the next files attach to it; the run's global teardown stops it (and a watchdog
// does, should the run itself be killed). Each file keeps to its own source ids.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createPool, type Pool } from '../src/db/pool';
import { createScratchDb, dropDatabase } from './scratch-db';
import { alive, findApiPid, freePort, listWorkers, SUPERVISOR, systemEnv, waitFor, waitUntilUp, type System } from './system';

export interface SharedSystemOptions {
  /** A folder of this test run (one per run): where the running system is recorded. */
  stateDir: string;
  /** The Postgres server on which the shared database is created. */
  serverUrl: string;
  /** The migrated template the shared database is copied from (created on first use, see ensureTemplateDb). */
  template?: string;
  /** The system's environment over systemEnv's: the same for every file that shares it. */
  env: Record<string, string>;
  /** Serve the Temporal Web UI, on a free port (env.TEMPORAL_UI_PORT of the result). */
  ui?: boolean;
  /** The test run's process: when it is gone, the watchdog stops the system. */
  runPid: number;
}

export interface SharedSystem extends Omit<System, 'proc'> {
  /** The supervisor's pid. */
  pid: number;
  /** The shared database, and a pool of this file's own on it. */
  db: { name: string; url: string; pool: Pool };
  /** What a file calls when done with it: ends its pool, leaves the system running for the next file. */
  release(): Promise<void>;
}

interface State {
  pid: number;
  url: string;
  temporalAddress: string;
  env: Record<string, string>;
  dataDir: string;
  db: { name: string; url: string };
  /** The options' env it was started with: a file asking for another one gets a fresh system. */
  asked: Pick<SharedSystemOptions, 'env' | 'ui'>;
}

const stateFile = (dir: string) => path.join(dir, 'system.json');
const databasesFile = (dir: string) => path.join(dir, 'databases');
/** The data folder of every system booted, one a line, the last one last (test/shared-system-reporter.js reads it). */
const dataDirsFile = (dir: string) => path.join(dir, 'data-dirs');
const outputFile = (dataDir: string) => path.join(dataDir, 'supervisor.out');

function readState(dir: string): State | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile(dir), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

async function healthy(url: string): Promise<boolean> {
  return waitFor('the shared system', async () => (await fetch(`${url}/healthz`)).status === 200, 60_000, 250).then(
    () => true,
    () => false,
  );
}

/** SIGTERM, then SIGKILL after 30 s; resolves when the process is gone. */
async function stopPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  while (alive(pid)) await new Promise((r) => setTimeout(r, 100));
}

/** Stops the recorded system, if one runs (its database stays, for stopSharedSystem to drop). */
async function stopRecorded(dir: string): Promise<void> {
  const state = readState(dir);
  if (state) await stopPid(state.pid);
  fs.rmSync(stateFile(dir), { force: true });
}

/** Polls the test run's pid; once it is gone, stops the supervisor. Detached: it outlives the file that started it. */
const WATCHDOG = `
const [run, pid] = process.argv.slice(1).map(Number);
const alive = (p) => { try { process.kill(p, 0); return true; } catch { return false; } };
const timer = setInterval(() => {
  if (!alive(pid)) process.exit(0);
  if (alive(run)) return;
  clearInterval(timer);
  process.kill(pid, 'SIGTERM');
  setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch {} process.exit(0); }, 30000);
}, 1000);
`;

async function boot(o: SharedSystemOptions): Promise<State> {
  const db = await createScratchDb('test_e2e_shared', o.serverUrl, { template: o.template });
  await db.pool.end();
  fs.appendFileSync(databasesFile(o.stateDir), `${db.name}\n`);
  const ui: Record<string, string> = o.ui ? { TEMPORAL_UI_PORT: String(await freePort()) } : {};
  const env = await systemEnv({ databaseUrl: db.url, env: { ...ui, ...o.env } });
  const dataDir = env.DATA_DIR!;
  fs.appendFileSync(dataDirsFile(o.stateDir), `${dataDir}\n`);
  const out = fs.openSync(outputFile(dataDir), 'a');
  // Its own process group, not attached to this worker: it runs on after this file ends.
  const proc = spawn(process.execPath, [SUPERVISOR], { env, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  const output = () => fs.readFileSync(outputFile(dataDir), 'utf8');
  try {
    await waitUntilUp(proc, output, dataDir);
  } catch (err) {
    // Not up: end it with whatever it started (its process group), not to leave them to the run.
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    throw err;
  }
  proc.unref();
  spawn(process.execPath, ['-e', WATCHDOG, String(o.runPid), String(proc.pid)], { stdio: 'ignore', detached: true }).unref();
  const state: State = {
    pid: proc.pid!,
    url: `http://127.0.0.1:${env.PORT}`,
    temporalAddress: `127.0.0.1:${env.TEMPORAL_PORT}`,
    env: env as Record<string, string>,
    dataDir,
    db: { name: db.name, url: db.url },
    asked: { env: o.env, ui: o.ui },
  };
  fs.writeFileSync(stateFile(o.stateDir), JSON.stringify(state));
  return state;
}

/** The run's shared system: the one running (same env, answering), or a new one. */
export async function sharedSystem(o: SharedSystemOptions): Promise<SharedSystem> {
  let state = readState(o.stateDir);
  const usable =
    state !== undefined &&
    JSON.stringify(state.asked) === JSON.stringify({ env: o.env, ui: o.ui }) &&
    alive(state.pid) &&
    (await healthy(state.url));
  if (!usable) {
    await stopRecorded(o.stateDir);
    state = await boot(o);
  }
  const s = state!;
  const pool = createPool({ connectionString: s.db.url, applicationName: 'test_e2e_shared' });
  return {
    pid: s.pid,
    url: s.url,
    temporalAddress: s.temporalAddress,
    env: s.env,
    dataDir: s.dataDir,
    db: { ...s.db, pool },
    output: () => fs.readFileSync(outputFile(s.dataDir), 'utf8'),
    workers: () => listWorkers(s.url),
    apiPid: () => findApiPid(s.pid),
    async stop() {
      await stopRecorded(o.stateDir);
    },
    release: () => pool.end(),
  };
}

/** The lines of one of the run's lists (databases, data folders); none if it was never written. */
const recorded = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** End of the run: stops the shared system, drops every database it used and removes its data folders. */
export async function stopSharedSystem(stateDir: string, serverUrl: string): Promise<void> {
  await stopRecorded(stateDir);
  if (!process.env.KEEP_TEST_DB) {
    for (const name of recorded(databasesFile(stateDir))) await dropDatabase(serverUrl, name);
    // The systems' data folders (logs, Temporal's SQLite file) go too, unless kept for a post-mortem.
    for (const dir of recorded(dataDirsFile(stateDir))) fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.rmSync(stateDir, { recursive: true, force: true });
}
