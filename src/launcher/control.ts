// The API's requests about the processes the launcher owns (GET /v1/admin/workers, stopping and
// starting a worker, stopping, pausing and resuming a region's dev server), over Node's IPC
// channel: the API does not own those processes, the launcher does.
import type { ControlReply, ControlRequest, ServerInfo, WorkerInfo } from '../contracts/control';
import type { WorkerChild } from './children';
import type { SupervisedChild } from './supervised-child';
import type { ServerChild } from './temporal-servers';
import { withTimeout } from '../with-timeout';

export function serverInfo(s: ServerChild): ServerInfo {
  const info = s.child.info();
  return { region: s.region, address: s.address, pid: info.pid, state: info.state, restarts: info.restarts };
}

export function workerInfo(w: WorkerChild): WorkerInfo {
  const info = w.child.info();
  return {
    region: w.region,
    stage: w.role,
    pid: info.pid,
    state: info.state,
    restarts: info.restarts,
    title: info.name,
    copy: w.copy,
    metricsPort: w.metricsPort,
  };
}

/** Carries out one request and answers it to the API process. */
export async function answerControl(
  req: ControlRequest,
  api: SupervisedChild | undefined,
  workers: WorkerChild[],
  servers: ServerChild[],
): Promise<void> {
  const reply = (r: Omit<ControlReply, 'type' | 'id'>) =>
    api?.process?.send?.({ type: 'worker-control-reply', id: req.id, ...r } satisfies ControlReply);
  if (req.command === 'list') return void reply({ ok: true, workers: workers.map(workerInfo) });
  if (req.command === 'servers') return void reply({ ok: true, servers: servers.map(serverInfo) });
  if (req.command.startsWith('server-')) {
    const server = servers.find((x) => x.region === req.region);
    if (!server) return void reply({ ok: false, error: `no Temporal server of region ${req.region} is run here` });
    try {
      if (req.command === 'server-stop') await server.child.stop(req.signal);
      else if (req.command === 'server-pause') await server.child.pause();
      else if (req.command === 'server-resume') await server.child.resume();
      else await server.child.start();
      return void reply({ ok: true, server: serverInfo(server) });
    } catch (err) {
      return void reply({ ok: false, error: (err as Error).message });
    }
  }
  // Every copy of the region's stage workers, or the one asked for.
  const ws = workers.filter((x) => x.region === req.region && x.role === req.stage && (req.copy === undefined || x.copy === req.copy));
  if (!ws.length) return void reply({ ok: false, error: `no worker ${req.region}/${req.stage}${req.copy ? ` #${req.copy}` : ''}` });
  try {
    if (req.command === 'stop') await Promise.all(ws.map((w) => w.child.stop(req.signal)));
    else await withTimeout(Promise.all(ws.map((w) => w.child.start())), 60_000, 'worker did not become ready within 60 s');
    reply({ ok: true, worker: workerInfo(ws[0]), workers: ws.map(workerInfo) });
  } catch (err) {
    reply({ ok: false, error: (err as Error).message });
  }
}
