// How the API sees and controls worker processes: through the supervisor that owns them.
import { randomUUID } from 'node:crypto';
import type { WorkerInfo } from './schemas';

export type WorkerCommand = 'list' | 'stop' | 'start';

export interface WorkerControl {
  readonly supervised: boolean;
  list(): Promise<WorkerInfo[]>;
  stop(region: string, stage: string): Promise<WorkerInfo>;
  start(region: string, stage: string): Promise<WorkerInfo>;
}

export interface ControlRequest {
  type: 'worker-control';
  id: string;
  command: WorkerCommand;
  region?: string;
  stage?: string;
}
export interface ControlReply {
  type: 'worker-control-reply';
  id: string;
  ok: boolean;
  workers?: WorkerInfo[];
  worker?: WorkerInfo;
  error?: string;
}

export class NotSupervised implements WorkerControl {
  readonly supervised = false;
  async list(): Promise<WorkerInfo[]> {
    return [];
  }
  async stop(): Promise<WorkerInfo> {
    throw new Error('this API process is not run by the supervisor (npm start); it cannot control workers');
  }
  async start(): Promise<WorkerInfo> {
    return this.stop();
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

  private request(command: WorkerCommand, region?: string, stage?: string): Promise<ControlReply> {
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
      const req: ControlRequest = { type: 'worker-control', id, command, region, stage };
      this.proc.send!(req);
    });
  }

  async list(): Promise<WorkerInfo[]> {
    return (await this.request('list')).workers ?? [];
  }
  async stop(region: string, stage: string): Promise<WorkerInfo> {
    return this.unwrap(await this.request('stop', region, stage));
  }
  async start(region: string, stage: string): Promise<WorkerInfo> {
    return this.unwrap(await this.request('start', region, stage));
  }
  private unwrap(reply: ControlReply): WorkerInfo {
    if (!reply.ok || !reply.worker) throw new Error(reply.error ?? 'worker control failed');
    return reply.worker;
  }
}

export function workerControlForProcess(): WorkerControl {
  return process.send ? new IpcWorkerControl() : new NotSupervised();
}
