// A deliberately incompatible change: a timer before the first stage, not behind patched().
// Replaying histories recorded without it must fail with a nondeterminism error.
import { sleep } from '@temporalio/workflow';
import { recordWorkflow as current } from '../../../src/workflows/record';
import type { RecordWorkflowInput } from '../../../src/contracts/record.messages';

export async function recordWorkflow(input: RecordWorkflowInput) {
  await sleep(10);
  return current(input);
}
