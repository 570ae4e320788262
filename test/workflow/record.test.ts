// recordWorkflow's own paths, in process: @temporalio/testing's TestWorkflowEnvironment on a local
// dev server, workers on its connection running the built workflow bundle, and stage activities
// stubbed per test (the stage write itself is tested against Postgres elsewhere).
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { FailureType } from '../../src/contracts/failures';
import {
  RECORD_WORKFLOW_TYPE,
  recordWorkflowId,
  SA,
  STAGE_SKIPPED,
  STAGE_SUPERSEDED,
  STAGES,
  stageTaskQueue,
  WORKFLOW_TASK_QUEUE,
  type Stage,
} from '../../src/contracts/names';
import type { StageResult, StageTask } from '../../src/activities/stage-write';
import {
  gateSignal,
  retrySignal,
  skipSignal,
  stateQuery,
  type RecordWorkflowInput,
  type RecordWorkflowResult,
} from '../../src/contracts/record.messages';
import { createTestEnv, installQuietRuntime } from '../helpers/temporal';

jest.setTimeout(120_000);

const NAMESPACE = 'pipeline-east';
// The bundle `npm run build` wrote: jest's transform would break bundling the workflow from TypeScript.
const BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'workflow-bundle.js');

type Stub = (task: StageTask) => Promise<StageResult>;
let stubs: Partial<Record<Stage, Stub>> = {};
/** This record wrote the stage; its predecessor is done everywhere (so no gate is closed after it). */
const done = (stage: Stage, seq: number): StageResult => ({
  outcome: 'done',
  watermarks: { ...Object.fromEntries(STAGES.map((s) => [s, seq - 1])), [stage]: seq },
});

let env: TestWorkflowEnvironment;
let client: Client;
let workers: Worker[];
let running: Promise<void>;

beforeAll(async () => {
  installQuietRuntime();
  env = await createTestEnv(NAMESPACE);
  client = env.client;
  const stageWorkers = STAGES.map((stage) =>
    Worker.create({
      connection: env.nativeConnection,
      namespace: NAMESPACE,
      taskQueue: stageTaskQueue(stage),
      activities: {
        [stage]: (task: StageTask) => (stubs[stage] ?? (async () => done(stage, task.seq)))(task),
      },
    }),
  );
  workers = await Promise.all([
    Worker.create({
      connection: env.nativeConnection,
      namespace: NAMESPACE,
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowBundle: { codePath: BUNDLE },
    }),
    ...stageWorkers,
  ]);
  running = Promise.all(workers.map((w) => w.run())).then(() => undefined);
});

afterAll(async () => {
  for (const w of workers ?? []) w.shutdown();
  await running;
  await env?.teardown();
});

beforeEach(() => {
  stubs = {};
});

let nextSource = 0;
function start(input: Partial<RecordWorkflowInput> & { seq: number }) {
  const sourceId = `wf-${++nextSource}`;
  const full: RecordWorkflowInput = { sourceId, region: 'east', epoch: 1, activityTimeoutMs: 5_000, retryMaxIntervalMs: 500, ...input };
  return client.workflow.start(RECORD_WORKFLOW_TYPE, {
    taskQueue: WORKFLOW_TASK_QUEUE,
    workflowId: recordWorkflowId(full.sourceId, full.seq),
    args: [full],
  });
}

/** The workflow's result, or 'stuck' (with its state) if it has not ended within `ms`. */
async function resultWithin(handle: Awaited<ReturnType<typeof start>>, ms: number): Promise<RecordWorkflowResult | string> {
  const timeout = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), ms));
  const outcome = await Promise.race([handle.result() as Promise<RecordWorkflowResult>, timeout]);
  if (outcome !== 'stuck') return outcome;
  const state = await handle.query(stateQuery);
  return `stuck: ${state.phase} at ${state.stage}`;
}

const rejected = (message: string) => ApplicationFailure.create({ type: FailureType.RecordRejected, nonRetryable: true, message });

type Handle = Awaited<ReturnType<typeof start>>;
/** The Stage search attribute, as the server has it (describe reads the run's own record, not visibility). */
const stageAttribute = async (h: Handle) => (await h.describe()).typedSearchAttributes.get(SA.stage);
/** The UI's Current Details (the SDK's built-in metadata query). */
const detailsOf = async (h: Handle) => (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';

describe('recordWorkflow', () => {
  it('runs the five stages and ends delivered', async () => {
    const seen: Stage[] = [];
    for (const stage of STAGES) stubs[stage] = async (task) => (seen.push(stage), done(stage, task.seq));
    const handle = await start({ seq: 1 });
    expect(await resultWithin(handle, 20_000)).toEqual({ outcome: 'delivered' });
    expect(seen).toEqual([...STAGES]);
  });

  it('keeps a retry signal that arrives before the workflow handled the rejection (defect: it was lost)', async () => {
    // The API answers a retry as soon as the activity marked the record blocked in Postgres, which
    // is before the workflow sees the activity's failure: the signal lands first.
    let coreCalls = 0;
    stubs.core = async (task) => {
      if (coreCalls++ > 0) return done('core', task.seq);
      await client.workflow.getHandle(recordWorkflowId(task.sourceId, task.seq)).signal(retrySignal);
      await new Promise((r) => setTimeout(r, 300));
      throw rejected('amount is not a number');
    };
    const handle = await start({ seq: 1 });
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'delivered' });
    expect(coreCalls).toBe(2);
  });

  it('waits for a retry when none came before the rejection, then runs the stage again', async () => {
    let coreCalls = 0;
    stubs.core = async (task) => {
      if (coreCalls++ === 0) throw rejected('bad payload');
      return done('core', task.seq);
    };
    const handle = await start({ seq: 1 });
    expect(await resultWithin(handle, 3_000)).toBe('stuck: blocked at core');
    await handle.signal(retrySignal);
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'delivered' });
    expect(coreCalls).toBe(2);
  });

  it('continues as new past its history limit while it waits, and still ends delivered', async () => {
    // Record 2 waits at preprocess until its predecessor is done there; each nudge wakes it for
    // another (still waiting) attempt, which grows the history past the limit.
    let predecessorDone = false;
    stubs.inbound = async (task) => ({ outcome: 'done', watermarks: { inbound: task.seq } });
    stubs.preprocess = async (task) =>
      predecessorDone ? done('preprocess', task.seq) : { outcome: 'waiting', watermarks: { inbound: 2, preprocess: 0 } };
    const handle = await start({ seq: 2, historyLimit: 20 });
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 150));
      await handle.signal(gateSignal, { watermarks: {}, nudge: true });
    }
    predecessorDone = true;
    await handle.signal(gateSignal, { watermarks: { preprocess: 1 } });
    expect(await resultWithin(handle, 20_000)).toEqual({ outcome: 'delivered' });
    // handle.result() follows the chain; a later run than the first one ended it.
    const latest = await client.workflow.getHandle(handle.workflowId).describe();
    expect(latest.runId).not.toBe(handle.firstExecutionRunId);
    expect(latest.status.name).toBe('COMPLETED');
  });

  it('tries a stage whose gate it only knows closed from watermarks (its activity waits in process), and waits for a signal only once registered', async () => {
    const calls: Stage[] = [];
    stubs.inbound = async (task) => (calls.push('inbound'), { outcome: 'done', watermarks: { inbound: task.seq, preprocess: 0 } });
    let preprocessCalls = 0;
    stubs.preprocess = async (task) => {
      calls.push('preprocess');
      // First attempt: still closed at its bound, so the activity registered the record.
      return preprocessCalls++ === 0
        ? { outcome: 'waiting', watermarks: { inbound: task.seq, preprocess: 0 } }
        : done('preprocess', task.seq);
    };
    const handle = await start({ seq: 2, gate: 'fast' });
    expect(await resultWithin(handle, 3_000)).toBe('stuck: waiting at preprocess');
    expect(calls).toEqual(['inbound', 'preprocess']);
    await handle.signal(gateSignal, { watermarks: { preprocess: 1 } });
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'delivered' });
    expect(calls).toEqual(['inbound', 'preprocess', 'preprocess']);
  });

  it('started before the fast path (no gate flag), waits on a gate it knows closed without trying it', async () => {
    const calls: Stage[] = [];
    stubs.inbound = async (task) => (calls.push('inbound'), { outcome: 'done', watermarks: { inbound: task.seq, preprocess: 0 } });
    stubs.preprocess = async (task) => (calls.push('preprocess'), done('preprocess', task.seq));
    const handle = await start({ seq: 2 });
    expect(await resultWithin(handle, 3_000)).toBe('stuck: waiting at preprocess');
    expect(calls).toEqual(['inbound']);
    await handle.signal(gateSignal, { watermarks: { preprocess: 1 } });
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'delivered' });
    expect(calls).toEqual(['inbound', 'preprocess']);
  });

  it("keeps the UI's Current Details true: waiting, blocked with the operator's two commands, delivered", async () => {
    const details = async (h: Awaited<ReturnType<typeof start>>) =>
      (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    let predecessorDone = false;
    let coreCalls = 0;
    stubs.inbound = async (task) => ({ outcome: 'done', watermarks: { inbound: task.seq } });
    stubs.preprocess = async (task) =>
      predecessorDone ? done('preprocess', task.seq) : { outcome: 'waiting', watermarks: { inbound: 2, preprocess: 0 } };
    stubs.core = async (task) => {
      if (coreCalls++ === 0) throw rejected('amount is not a number');
      return done('core', task.seq);
    };
    const handle = await start({ seq: 2, sourceId: 'wf details/α' });
    await waitUntil(async () => (await details(handle)).startsWith('**Waiting at preprocess**'));
    expect(await details(handle)).toContain('until record #1 of wf details/α has finished preprocess');

    predecessorDone = true;
    await handle.signal(gateSignal, { watermarks: { preprocess: 1 } });
    await waitUntil(async () => (await details(handle)).startsWith('**Blocked at core**'));
    const blocked = await details(handle);
    expect(blocked).toContain('amount is not a number');
    expect(blocked).toContain('`POST /v1/sources/wf%20details%2F%CE%B1/records/2/retry`');
    expect(blocked).toContain('`POST /v1/sources/wf%20details%2F%CE%B1/records/2/skip`');

    await handle.signal(retrySignal);
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'delivered' });
  });

  it("asks outbound to report a webhook's new answers, shows the last one in Current Details while it waits, calls again after the delay, then delivers", async () => {
    const asked: (boolean | undefined)[] = [];
    let calls = 0;
    let firstAt = 0;
    let againAt = 0;
    stubs.core = async (task) => (asked.push(task.deferNewAnswers), done('core', task.seq));
    stubs.outbound = async (task) => {
      asked.push(task.deferNewAnswers);
      calls += 1;
      if (calls === 1) {
        firstAt = Date.now();
        return {
          outcome: 'deferred',
          watermarks: {},
          deferred: { error: 'hooks.example.com answered 503: maintenance', attempts: 1, delayMs: 3_000 },
        };
      }
      againAt = Date.now();
      return done('outbound', task.seq);
    };
    const handle = await start({ seq: 1 });
    await waitUntil(async () => (await detailsOf(handle)).startsWith('**Waiting for the destination**'));
    expect(await detailsOf(handle)).toContain('hooks.example.com answered 503: maintenance (attempt 1)');
    expect(await resultWithin(handle, 20_000)).toEqual({ outcome: 'delivered' });
    expect(calls).toBe(2);
    expect(againAt - firstAt).toBeGreaterThanOrEqual(2_900);
    expect(asked).toEqual([undefined, true, true]);
    expect(await detailsOf(handle)).toMatch(/^\*\*Delivered\*\*/);
  });

  it('blocked, then skipped by the operator: ends skipped at that stage, runs no later stage, and its Stage search attribute says skipped', async () => {
    const calls: Stage[] = [];
    for (const stage of STAGES) stubs[stage] = async (task) => (calls.push(stage), done(stage, task.seq));
    stubs.core = async () => {
      calls.push('core');
      throw rejected('amount is not a number');
    };
    const handle = await start({ seq: 1 });
    await waitUntil(async () => (await handle.query(stateQuery)).phase === 'blocked');
    expect((await handle.query(stateQuery)).blocked).toEqual({ stage: 'core', reason: 'amount is not a number' });
    // Blocked: the attribute names the stage it is stuck at (what the operator searches for).
    expect(await stageAttribute(handle)).toBe('core');

    await handle.signal(skipSignal);
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'skipped', stage: 'core' });
    expect(await stageAttribute(handle)).toBe(STAGE_SKIPPED);
    expect(calls).toEqual(['inbound', 'preprocess', 'core']);
  });

  it('fenced by a failover: ends superseded at that stage without retrying it, and Current Details give the fence', async () => {
    const fence = 'region east at epoch 1 is no longer the active writer (the pipeline is at epoch 2, east standby)';
    let preprocessCalls = 0;
    const later: Stage[] = [];
    stubs.preprocess = async () => {
      preprocessCalls++;
      throw ApplicationFailure.create({ type: FailureType.Fenced, nonRetryable: true, message: fence });
    };
    for (const stage of ['core', 'postprocess', 'outbound'] as const)
      stubs[stage] = async (task) => (later.push(stage), done(stage, task.seq));
    const handle = await start({ seq: 1 });
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'superseded', stage: 'preprocess' });
    expect(preprocessCalls).toBe(1);
    expect(later).toEqual([]);
    const details = await detailsOf(handle);
    expect(details).toMatch(/^\*\*Superseded\*\* at preprocess: /);
    expect(details).toContain(fence);
    expect(await stageAttribute(handle)).toBe(STAGE_SUPERSEDED);
  });

  it('with the fast gate, a waiting answer (registered) makes it wait, and only a gate signal carrying the watermark that opens the gate runs the stage again', async () => {
    let inboundCalls = 0;
    stubs.inbound = async (task) =>
      // First attempt: records 2 and 3 are not through inbound yet, so the activity registered record 4.
      inboundCalls++ === 0 ? { outcome: 'waiting', watermarks: { inbound: 1 } } : done('inbound', task.seq);
    const handle = await start({ seq: 4, gate: 'fast' });
    const state = () => handle.query(stateQuery);
    await waitUntil(async () => (await state()).phase === 'waiting');
    expect(await state()).toMatchObject({ phase: 'waiting', stage: 'inbound', waitingFor: { seq: 2, stage: 'inbound' } });
    expect(inboundCalls).toBe(1);

    // Record 2 is through: still closed for record 4, which now waits for 3, without another attempt.
    await handle.signal(gateSignal, { watermarks: { inbound: 2 } });
    await waitUntil(async () => (await state()).waitingFor?.seq === 3);
    expect(await state()).toMatchObject({ phase: 'waiting', stage: 'inbound', waitingFor: { seq: 3, stage: 'inbound' } });
    expect(inboundCalls).toBe(1);

    await handle.signal(gateSignal, { watermarks: { inbound: 3 } });
    expect(await resultWithin(handle, 15_000)).toEqual({ outcome: 'delivered' });
    expect(inboundCalls).toBe(2);
  });
});

async function waitUntil(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
