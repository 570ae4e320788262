// A second API process beside a running system, as an operator puts API replicas behind a load
// balancer: the same database and Temporal servers, a port of its own, its log in the system's
// logs folder. It is not the supervisor's child, so it cannot control workers or servers.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, projectRoot, stopProcess, waitFor, type System } from './system';

export const API_ENTRY = path.join(projectRoot(), 'dist', 'src', 'api', 'server.js');

export interface ApiReplica {
  url: string;
  proc: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/** The Temporal addresses the system's processes use: one dev server, or east's and west's (port + 1). */
export function temporalAddresses(sys: Pick<System, 'env'>): { east: string; west: string } {
  const port = Number(sys.env.TEMPORAL_PORT);
  const west = sys.env.REGION_TOPOLOGY === 'servers' ? port + 1 : port;
  return { east: `127.0.0.1:${port}`, west: `127.0.0.1:${west}` };
}

/** Starts one more API process for `sys` and resolves once it answers /healthz. */
export async function startApiReplica(sys: Pick<System, 'env' | 'dataDir'>, env: Record<string, string> = {}): Promise<ApiReplica> {
  const port = await freePort();
  const addresses = temporalAddresses(sys);
  const logs = path.join(sys.dataDir, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  const out = fs.openSync(path.join(logs, `api-replica-${port}.log`), 'a');
  const proc = spawn(process.execPath, [API_ENTRY], {
    env: {
      ...sys.env,
      PORT: String(port),
      TEMPORAL_ADDRESS_EAST: addresses.east,
      TEMPORAL_ADDRESS_WEST: addresses.west,
      LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  let exited: number | null = null;
  proc.once('exit', (code) => (exited = code ?? -1));
  await waitFor(
    `the API replica on port ${port}`,
    async () => {
      if (exited !== null) throw new Error(`the API replica exited (${exited}); see ${logs}`);
      return (await fetch(`${url}/healthz`)).status === 200;
    },
    120_000,
    250,
  );
  return { url, proc, pid: proc.pid!, stop: () => stopProcess(proc, 15_000) };
}
