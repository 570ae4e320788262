// The supervisor's control messages: what the API asks the supervisor that owns the worker and
// Temporal dev server processes (over Node's IPC channel), and what it answers. The API's routes
// serve WorkerInfo and ServerInfo as they are, so they are TypeBox schemas with derived types.
import { Type, type Static } from '@sinclair/typebox';

export const WorkerInfo = Type.Object({
  region: Type.String(),
  stage: Type.String(),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.String(),
  restarts: Type.Integer(),
  title: Type.String(),
  copy: Type.Integer({ description: 'which of the processes of this region and stage (1..WORKERS_PER_STAGE)' }),
  metricsPort: Type.Union([Type.Integer(), Type.Null()], { description: "the process's Temporal SDK metrics (Prometheus), null when off" }),
});
export type WorkerInfo = Static<typeof WorkerInfo>;

/** A region's Temporal dev server run by the supervisor (absent when Temporal is external). */
export const ServerInfo = Type.Object({
  region: Type.String(),
  address: Type.String(),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.String(),
  restarts: Type.Integer(),
});
export type ServerInfo = Static<typeof ServerInfo>;

export type WorkerCommand = 'list' | 'stop' | 'start' | 'servers' | 'server-stop' | 'server-start' | 'server-pause' | 'server-resume';
export type StopSignal = 'SIGTERM' | 'SIGKILL';

export interface ControlRequest {
  type: 'worker-control';
  id: string;
  command: WorkerCommand;
  region?: string;
  stage?: string;
  /** Only this copy of the region's stage workers (default: every copy). */
  copy?: number;
  signal?: StopSignal;
}
export interface ControlReply {
  type: 'worker-control-reply';
  id: string;
  ok: boolean;
  workers?: WorkerInfo[];
  worker?: WorkerInfo;
  servers?: ServerInfo[];
  server?: ServerInfo;
  error?: string;
}
