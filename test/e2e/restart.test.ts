// `npm start` again after its supervisor was killed outright (SIGKILL, the OOM killer: no chance to
// stop anything). Its Node children must notice and exit (the workers used to go on polling), but
// the Temporal servers keep running on the folder's ports and files, and a new server could not
// start beside them. The next start of the folder stops what the killed one left (it kept a list,
// children.json), then comes up on its own.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createTestDb, type TestDb } from '../helpers/db';
import { alive, api, findApiPid, startSystem, stopProcess, submit, SUPERVISOR, waitFor, waitUntilUp, type System } from '../helpers/system';

jest.setTimeout(300_000);

let db: TestDb;
let sys: System;

beforeAll(async () => {
  db = await createTestDb('e2e_restart');
  sys = await startSystem({ databaseUrl: db.url });
});
afterAll(async () => {
  if (sys) {
    await sys.stop();
    if (!process.env.KEEP_TEST_DB) fs.rmSync(sys.dataDir, { recursive: true, force: true });
  }
  await db?.drop();
});

type Regions = { servers: { region: string; pid: number | null; state: string }[] };
/** The Temporal servers' pids (one server may serve both regions). */
const serverPids = async (url: string) => [
  ...new Set((await api<Regions>(`${url}/v1/admin/regions`, 'GET')).body.servers.map((x) => x.pid)),
];

describe('a supervisor killed outright', () => {
  it('leaves its servers to the next start of its folder, which stops them and comes up', async () => {
    const servers = (await serverPids(sys.url)) as number[];
    expect(servers.length).toBeGreaterThan(0);
    expect(servers.every((p) => typeof p === 'number')).toBe(true);
    const nodeChildren = [...(await sys.workers()).map((w) => w.pid!), await sys.apiPid()];

    sys.proc.kill('SIGKILL');
    await waitFor('the Node children to exit with their supervisor gone', async () => !nodeChildren.some(alive), 60_000);
    // What is left: both servers, on the folder's ports and files.
    expect(servers.filter(alive)).toEqual(servers);

    const again = spawn(process.execPath, [SUPERVISOR], { env: sys.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    again.stdout.on('data', (d) => (out += d));
    again.stderr.on('data', (d) => (out += d));
    // The afterAll stops this one now.
    sys = { ...sys, proc: again, apiPid: () => findApiPid(again.pid!), stop: () => stopProcess(again, 30_000) };
    await waitUntilUp(again, () => out, sys.dataDir);
    expect(out).toMatch(/stopped what an earlier run left running \(its supervisor was killed\): temporal/);
    expect(servers.filter(alive)).toEqual([]);
    // Its own servers, running, and the system ready on them.
    const now = await serverPids(sys.url);
    expect(now.every((p) => typeof p === 'number' && !servers.includes(p))).toBe(true);
    await waitFor('ready', async () => (await api<{ status: string }>(`${sys.url}/readyz`, 'GET')).body.status === 'ready', 60_000);
    const res = await submit(sys.url, 'restart-src', [{ id: 'r1', payload: { amount: 1 } }]);
    expect(res.status).toBe(202);
    await waitFor(
      'the record delivered',
      async () => (await db.pool.query('SELECT 1 FROM deliveries WHERE source_id = $1', ['restart-src'])).rowCount === 1,
      60_000,
    );

    // A clean stop leaves no list behind.
    const pids = [...(await sys.workers()).map((w) => w.pid!), ...((await serverPids(sys.url)) as number[]), await sys.apiPid()];
    await sys.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(`${sys.dataDir}/children.json`)).toBe(false);
  });
});
