// How the API sees and controls worker processes: through the supervisor that owns them.
import { randomUUID } from 'node:crypto';
import type { ControlReply, ControlRequest, ServerInfo, StopSignal, WorkerCommand, WorkerInfo } from '../contracts/control';

/** What a stop or start did: the first process it acted on, and every one (the copies of a stage). */
export type WorkerAction = WorkerInfo & { copies: WorkerInfo[] };

export interface WorkerControl {
  readonly supervised: boolean;
  list(): Promise<WorkerInfo[]>;
  /** Every copy of the region's stage workers, or only `copy`; answers with the first and all of them. */
  stop(region: string, stage: string, signal?: StopSignal, copy?: number): Promise<WorkerAction>;
  start(region: string, stage: string, copy?: number): Promise<WorkerAction>;
  servers(): Promise<ServerInfo[]>;
  stopServer(region: string, signal?: StopSignal): Promise<ServerInfo>;
  startServer(region: string): Promise<ServerInfo>;
  /** SIGSTOP / SIGCONT: a hung server rather than a dead one. */
  pauseServer(region: string): Promise<ServerInfo>;
  resumeServer(region: string): Promise<ServerInfo>;
}

export class NotSupervised implements WorkerControl {
  readonly supervised = false;
  async list(): Promise<WorkerInfo[]> {
    return [];
  }
  async stop(): Promise<WorkerAction> {
    throw new Error('this API process is not run by the supervisor (npm start); it cannot control workers');
  }
  async start(): Promise<WorkerAction> {
    return this.stop();
  }
  async servers(): Promise<ServerInfo[]> {
    return [];
  }
  async stopServer(): Promise<ServerInfo> {
    throw new Error('this API process is not run by the supervisor (npm start); it cannot control servers');
  }
  async startServer(): Promise<ServerInfo> {
    return this.stopServer();
  }
  async pauseServer(): Promise<ServerInfo> {
    return this.stopServer();
  }
  async resumeServer(): Promise<ServerInfo> {
    return this.stopServer();
  }
}

/** Talks to the supervisor over the IPC channel Node opens for a forked child. */
export class IpcWorkerControl implements WorkerControl {
  readonly supervised = true;
  private readonly waiting = new Map<string, (reply: ControlReply) => void>();

  constructor(private readonly proc: NodeJS.Process = process) {
    proc.on('message', (msg: ControlReply) => {
      if (msg?.type !== 'worker-control-reply') return;
      this.waiting.get(msg.id)?.(msg);
      this.waiting.delete(msg.id);
    });
  }

  private request(command: WorkerCommand, region?: string, stage?: string, signal?: StopSignal, copy?: number): Promise<ControlReply> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('the supervisor did not answer'));
      }, 15_000);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      const req: ControlRequest = { type: 'worker-control', id, command, region, stage, signal, copy };
      this.proc.send!(req);
    });
  }

  async list(): Promise<WorkerInfo[]> {
    return (await this.request('list')).workers ?? [];
  }
  async stop(region: string, stage: string, signal?: StopSignal, copy?: number): Promise<WorkerAction> {
    return this.unwrap(await this.request('stop', region, stage, signal, copy));
  }
  async servers(): Promise<ServerInfo[]> {
    return (await this.request('servers')).servers ?? [];
  }
  async stopServer(region: string, signal?: StopSignal): Promise<ServerInfo> {
    return this.unwrapServer(await this.request('server-stop', region, undefined, signal));
  }
  async startServer(region: string): Promise<ServerInfo> {
    return this.unwrapServer(await this.request('server-start', region));
  }
  async pauseServer(region: string): Promise<ServerInfo> {
    return this.unwrapServer(await this.request('server-pause', region));
  }
  async resumeServer(region: string): Promise<ServerInfo> {
    return this.unwrapServer(await this.request('server-resume', region));
  }
  private unwrapServer(reply: ControlReply): ServerInfo {
    if (!reply.ok || !reply.server) throw new Error(reply.error ?? 'server control failed');
    return reply.server;
  }
  async start(region: string, stage: string, copy?: number): Promise<WorkerAction> {
    return this.unwrap(await this.request('start', region, stage, undefined, copy));
  }
  private unwrap(reply: ControlReply): WorkerAction {
    if (!reply.ok || !reply.worker) throw new Error(reply.error ?? 'worker control failed');
    return { ...reply.worker, copies: reply.workers ?? [reply.worker] };
  }
}

export function workerControlForProcess(): WorkerControl {
  return process.send ? new IpcWorkerControl() : new NotSupervised();
}
