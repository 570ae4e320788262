// Where the workflow starts are issued. In a worker thread of the API process (npm start): the
// gRPC and protobuf work of a burst of starts then never stands between a submit and its 202.
// In this thread (tests, apps built in-process): the same starts, the same order.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Attributes } from '@opentelemetry/api';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import pLimit from 'p-limit';
import type { TemporalClients } from '../temporal/clients';
import { inRecordTrace } from '../telemetry/spans';
import { RECORD_WORKFLOW_TYPE } from '../contracts/names';
import type { recordStartOptions } from './start-options';

/** One workflow start: its options, and the trace it belongs to. */
export interface StartJob {
  options: ReturnType<typeof recordStartOptions>;
  traceparent?: string | null;
  attrs: Attributes;
  /** Issued only while the control lease is held (the control loops' starts; a submit's own need none). */
  leased?: boolean;
}

/** Per job, in order: null when started, else why not (CLOSED_RUN or LEASE_LOST, or the error). */
export type StartOutcome = string | null;

/** The start was refused: a closed run of this workflow id exists (the reuse policy rejects a duplicate). */
export const CLOSED_RUN = 'a closed run of this workflow id exists';
/** The control lease ran out before the start was issued: it was not issued. */
export const LEASE_LOST = 'the control lease ran out before this start';

/**
 * The monotonic instant (process.hrtime.bigint()) the control lease ends at, as the lease keeps it
 * in shared memory (0: not held); none: no leased job is ever issued.
 */
export type LeaseDeadline = BigInt64Array | undefined;

const leaseHeld = (deadline: LeaseDeadline) => deadline !== undefined && process.hrtime.bigint() < Atomics.load(deadline, 0);

export interface StartExecutor {
  /** Starts the jobs in `region`, at most `concurrency` in flight, issued in order. Rejects when the region's server can't be reached. */
  start(region: string, jobs: StartJob[], concurrency: number): Promise<StartOutcome[]>;
  close(): Promise<void>;
}

/**
 * Issues the starts with one client; a failed start is an outcome, not an error. A leased job is
 * issued only while the lease is held, checked right before its call: a holder paused past its
 * lease issues none of the starts it had queued.
 */
export async function issueStarts(client: Client, jobs: StartJob[], concurrency: number, lease?: LeaseDeadline): Promise<StartOutcome[]> {
  // p-limit runs its queue first in, first out: the starts are issued in job order, `concurrency` at most in flight.
  const limit = pLimit(concurrency);
  return Promise.all(
    jobs.map((job) =>
      limit(async (): Promise<StartOutcome> => {
        if (job.leased && !leaseHeld(lease)) return LEASE_LOST;
        try {
          await inRecordTrace(job.traceparent, job.attrs, () => client.workflow.start(RECORD_WORKFLOW_TYPE, job.options));
          return null;
        } catch (err) {
          const cause = (err as Error).cause as Error | undefined;
          return err instanceof WorkflowExecutionAlreadyStartedError
            ? CLOSED_RUN
            : [(err as Error).message, cause?.message].filter(Boolean).join(': ');
        }
      }),
    ),
  );
}

/** Starts in this thread, with the process's clients. */
export class InlineStartExecutor implements StartExecutor {
  constructor(
    private readonly temporal: TemporalClients,
    private readonly lease?: LeaseDeadline,
  ) {}

  async start(region: string, jobs: StartJob[], concurrency: number): Promise<StartOutcome[]> {
    return issueStarts(await this.temporal.client(region), jobs, concurrency, this.lease);
  }

  async close(): Promise<void> {}
}

/** Messages between the API's thread and the start thread. */
export type ToStartThread = { type: 'start'; id: number; region: string; jobs: StartJob[]; concurrency: number } | { type: 'close' };
export type FromStartThread = { type: 'done'; id: number; outcomes: StartOutcome[] } | { type: 'failed'; id: number; error: string };

/**
 * Starts in a worker thread with its own Temporal clients (configured from the same environment).
 * A thread that dies fails the starts it held (the relay starts them again) and is replaced on
 * the next start.
 */
export class ThreadStartExecutor implements StartExecutor {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (o: StartOutcome[]) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly script = path.join(__dirname, 'start-thread.js'),
    private readonly lease?: LeaseDeadline,
  ) {}

  start(region: string, jobs: StartJob[], concurrency: number): Promise<StartOutcome[]> {
    if (!jobs.length) return Promise.resolve([]);
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'start', id, region, jobs, concurrency } satisfies ToStartThread);
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // The lease's deadline in shared memory: the thread reads it before each leased start.
    const worker = new Worker(this.script, { workerData: { lease: this.lease } });
    worker.on('message', (msg: FromStartThread) => {
      const waiting = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === 'done') waiting?.resolve(msg.outcomes);
      else waiting?.reject(new Error(msg.error));
    });
    const gone = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const [, waiting] of this.pending) waiting.reject(new Error(`the start thread ${why}`));
      this.pending.clear();
    };
    worker.on('error', (err) => gone(`failed: ${err.message}`));
    worker.on('exit', (code) => gone(`exited (${code})`));
    this.worker = worker;
    return worker;
  }

  /** Lets the thread close its connections and end (starts in flight finish first). */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ type: 'close' } satisfies ToStartThread);
    const killer = setTimeout(() => void worker.terminate(), 10_000);
    await exited;
    clearTimeout(killer);
  }
}
