// The bench's reference: minimal bare Temporal on the same dev server. One dedicated worker process
// (bare-worker.ts) on its own task queue serves a workflow of five empty activities.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { median } from './stats';
import { snapPids, used } from './cpu';
import { stopProcess } from '../../harness/system';
import { loadConfig } from '../../src/config';
import { niceCommand, niceProgram } from '../../src/launcher/supervised-child';

export const BARE_TASK_QUEUE = 'bench-bare';

/**
 * The bare worker: a child process of its own serving BARE_TASK_QUEUE, at the niceness the system's
 * own workers run at (`WORKER_NICE` of its environment): like for like beside them.
 */
export async function startBareWorker(address: string, namespace: string, systemEnv: NodeJS.ProcessEnv) {
  const script = path.join(__dirname, 'bare-worker.js');
  const line = niceCommand(niceProgram(loadConfig(systemEnv).WORKER_NICE), process.execPath, [script, address, namespace, BARE_TASK_QUEUE]);
  const child = spawn(line.command, line.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bare worker not ready within 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', (d) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bare worker exited (${code}):\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    stop: () => stopProcess(child, 15_000),
  };
}

/** N bare workflows started at once: workflows/s from the first start to the last completion. */
export async function runBare(client: Client, count: number): Promise<number> {
  const tag = randomBytes(3).toString('hex');
  const started = Date.now();
  const handles = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      client.workflow.start('bareWorkflow', { taskQueue: BARE_TASK_QUEUE, workflowId: `bare:${tag}:${i}`, args: [] }),
    ),
  );
  let done = 0;
  await Promise.all(
    handles.map(async (h) => {
      await h.result();
      done += 1;
      if (done % 50 === 0) process.stdout.write(`\r  bare: ${done}/${count} completed   `);
    }),
  );
  process.stdout.write('\n');
  return count / ((Date.now() - started) / 1000);
}

/** One bare run with the CPU seconds it took its worker process and the Temporal server. */
/** `server`: the Temporal server's pids now (serverPids: with the real server, its Postgres backends too, as for the pipeline). */
export async function measureBare(client: Client, workerPid: number, count: number, server: () => Promise<number[]>) {
  const before = { worker: snapPids([workerPid]), temporal: snapPids(await server()) };
  const perS = await runBare(client, count);
  const cpu = { worker: used(before.worker, snapPids([workerPid])), temporal: used(before.temporal, snapPids(await server())) };
  return { perS, cpu };
}

/** A lone bare workflow on the idle server, `count` times one after another (after one warm-up): p50 seconds. */
export async function bareIdleLatency(client: Client, count: number): Promise<number> {
  const tag = randomBytes(3).toString('hex');
  const times: number[] = [];
  for (let i = 0; i <= count; i++) {
    const t0 = Date.now();
    await client.workflow.execute('bareWorkflow', { taskQueue: BARE_TASK_QUEUE, workflowId: `bare-idle:${tag}:${i}`, args: [] });
    if (i > 0) times.push((Date.now() - t0) / 1000);
  }
  return median(times);
}
