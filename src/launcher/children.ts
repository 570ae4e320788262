// The processes `npm start` runs from the built code: the API and, per region, a workflow worker
// and one worker per stage. Each gets the same settings as the launcher, pointed at the servers it
// found; only the API gets the admin token.
import path from 'node:path';
import type { Config } from '../config';
import { WORKER_ROLES, workerProcessTitle } from '../contracts/names';
import { logFile } from './log-files';
import type { ChildSpec, SupervisedChild } from './supervised-child';

/** dist/src, where the entry points of the children are. */
const DIST = path.resolve(__dirname, '..');

export interface WorkerChild {
  region: string;
  role: string;
  /** Which of the role's processes in the region (1..WORKERS_PER_STAGE; the workflow worker is one). */
  copy: number;
  child: SupervisedChild;
  metricsPort: number | null;
}

export interface Endpoints {
  databaseUrl: string;
  addresses: { east: string; west: string };
}

/** The environment of every child; children log JSON lines to their log files. */
export function childEnv(c: Config, at: Endpoints): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ADMIN_TOKEN: undefined,
    DATABASE_URL: at.databaseUrl,
    TEMPORAL_ADDRESS_EAST: at.addresses.east,
    TEMPORAL_ADDRESS_WEST: at.addresses.west,
    DATA_DIR: c.dataDir,
    LOG_FORMAT: 'json',
  };
}

export function apiSpec(c: Config, env: NodeJS.ProcessEnv, adminToken: string | undefined): ChildSpec {
  // Only the API needs the admin token; workers never see it.
  const apiEnv: NodeJS.ProcessEnv = { ...env };
  if (adminToken !== undefined) apiEnv.ADMIN_TOKEN = adminToken;
  return {
    name: 'api',
    script: path.join(DIST, 'api', 'server.js'),
    args: [],
    env: apiEnv,
    logFile: logFile(c.dataDir, 'api'),
    waitForReady: true,
    maxBackoffMs: c.WORKER_RESTART_MAX_MS,
  };
}

export interface WorkerSpec {
  region: string;
  role: string;
  copy: number;
  spec: ChildSpec;
  metricsPort: number | null;
}

/**
 * Per region, one workflow worker and WORKERS_PER_STAGE workers per stage (each polls its stage's
 * task queue: Temporal spreads the tasks), in that order. Every copy has the same process title;
 * the copies after the first log to a file of their own.
 */
export function workerSpecs(c: Config, env: NodeJS.ProcessEnv): WorkerSpec[] {
  const specs: WorkerSpec[] = [];
  for (const region of c.regions) {
    for (const role of WORKER_ROLES) {
      const copies = role === 'workflows' ? 1 : c.WORKERS_PER_STAGE;
      for (let copy = 1; copy <= copies; copy++) {
        // Each worker its own SDK metrics port: METRICS_PORT_BASE, +1, ... (0: off).
        const metricsPort = c.METRICS_PORT_BASE > 0 ? c.METRICS_PORT_BASE + specs.length : null;
        specs.push({
          region: region.name,
          role,
          copy,
          metricsPort,
          spec: {
            name: workerProcessTitle(region.name, role),
            script: path.join(DIST, 'workers', 'worker.js'),
            args: [region.name, role],
            env: { ...env, METRICS_PORT: String(metricsPort ?? 0) },
            logFile: logFile(c.dataDir, `worker-${region.name}-${role}${copy > 1 ? `-${copy}` : ''}`),
            waitForReady: true,
            maxBackoffMs: c.WORKER_RESTART_MAX_MS,
            stopTimeoutMs: 5_000,
            nice: c.WORKER_NICE,
          },
        });
      }
    }
  }
  return specs;
}
