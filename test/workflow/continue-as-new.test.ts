// recordWorkflow continues as new when the server suggests it, long before its own history limit:
// a dev server told to suggest continue-as-new past 40 events (the default is thousands), one record
// that waits and is nudged again and again, stage activities stubbed.
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { RECORD_WORKFLOW_TYPE, recordWorkflowId, STAGES, stageTaskQueue, WORKFLOW_TASK_QUEUE } from '../../src/contracts/names';
import type { StageResult, StageTask } from '../../src/activities/stage-write';
import { gateSignal, type RecordWorkflowInput } from '../../src/contracts/record.messages';
import { PATCH_CONTINUE_AS_NEW_SUGGESTED } from '../../src/workflows/record';
import { createTestEnv, installQuietRuntime } from '../helpers/temporal';

jest.setTimeout(120_000);

const NAMESPACE = 'pipeline-east';
const BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'workflow-bundle.js');

let env: TestWorkflowEnvironment;
let workers: Worker[];
let running: Promise<void>;
let predecessorDone = false;

beforeAll(async () => {
  installQuietRuntime();
  env = await createTestEnv(NAMESPACE, { 'limit.historyCount.suggestContinueAsNew': 40 });
  const done = (stage: string, seq: number): StageResult => ({
    outcome: 'done',
    watermarks: { ...Object.fromEntries(STAGES.map((s) => [s, seq - 1])), [stage]: seq },
  });
  workers = await Promise.all([
    Worker.create({
      connection: env.nativeConnection,
      namespace: NAMESPACE,
      taskQueue: WORKFLOW_TASK_QUEUE,
      workflowBundle: { codePath: BUNDLE },
    }),
    ...STAGES.map((stage) =>
      Worker.create({
        connection: env.nativeConnection,
        namespace: NAMESPACE,
        taskQueue: stageTaskQueue(stage),
        activities: {
          // Record 2 waits at preprocess (registered for a signal) until its predecessor is done there.
          [stage]: async (task: StageTask): Promise<StageResult> => {
            if (stage === 'inbound') return { outcome: 'done', watermarks: { inbound: task.seq } };
            if (stage === 'preprocess' && !predecessorDone) return { outcome: 'waiting', watermarks: { inbound: 2, preprocess: 0 } };
            return done(stage, task.seq);
          },
        },
      }),
    ),
  ]);
  running = Promise.all(workers.map((w) => w.run())).then(() => undefined);
});

afterAll(async () => {
  for (const w of workers ?? []) w.shutdown();
  await running;
  await env?.teardown();
});

it('continues as new when the server suggests it (its own limit of 2000 events far away), and still ends delivered', async () => {
  const input: RecordWorkflowInput = { sourceId: 'suggested', seq: 2, region: 'east', epoch: 1, gate: 'fast', activityTimeoutMs: 5_000 };
  const handle = await env.client.workflow.start(RECORD_WORKFLOW_TYPE, {
    taskQueue: WORKFLOW_TASK_QUEUE,
    workflowId: recordWorkflowId(input.sourceId, input.seq),
    args: [input],
  });
  // Each nudge wakes it for another attempt that still answers `waiting`: the history grows.
  for (let i = 0; i < 12; i++) {
    await new Promise((r) => setTimeout(r, 100));
    await handle.signal(gateSignal, { watermarks: {}, nudge: true });
  }
  predecessorDone = true;
  await handle.signal(gateSignal, { watermarks: { preprocess: 1 } });
  expect(await handle.result()).toEqual({ outcome: 'delivered' });
  const first = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
  expect(first.status.name).toBe('CONTINUED_AS_NEW');
  const history = await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
  expect(history.events?.length).toBeLessThan(2000);
  // The patch marker: new code's path, recorded where it was taken.
  const markers = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
  expect(markers.length).toBe(1);
  const recorded = markers.flatMap((m) =>
    Object.values(m.markerRecordedEventAttributes?.details ?? {}).flatMap((p) =>
      (p.payloads ?? []).map((x) => Buffer.from(x.data ?? []).toString()),
    ),
  );
  expect(recorded.join(' ')).toContain(PATCH_CONTINUE_AS_NEW_SUGGESTED);
});
