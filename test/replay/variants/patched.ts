// The same change made the compatible way: behind patched(), old histories take the old path.
import { patched, sleep } from '@temporalio/workflow';
import { recordWorkflow as current } from '../../../src/workflows/record';
import type { RecordWorkflowInput } from '../../../src/contracts/record.messages';

export async function recordWorkflow(input: RecordWorkflowInput) {
  if (patched('pause-before-first-stage')) await sleep(10);
  return current(input);
}
