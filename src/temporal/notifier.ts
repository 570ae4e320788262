// Sends the ordering gate's signal to a record workflow from outside workflow code (a stage
// activity after its commit, or the control role's sweeper). A record that does not exist yet is
// normal: it reads the watermarks from Postgres when it starts. Any other failure throws: a stage
// activity then fails after its commit and is retried, and its retry (the write answers `already`)
// sends the signal again, so a short Temporal outage costs seconds, not the sweeper's minutes.
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { recordWorkflowId } from '../contracts/names';
import { gateSignal, type GateMessage } from '../contracts/record.messages';

export type GateNotifier = (sourceId: string, seq: number, message: GateMessage) => Promise<'sent' | 'absent'>;

const SIGNAL_DEADLINE_MS = 5_000;

export function gateNotifier(client: Client, onError?: (err: Error) => void): GateNotifier {
  return async (sourceId, seq, message) => {
    try {
      await client.connection.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () =>
        client.workflow.getHandle(recordWorkflowId(sourceId, seq)).signal(gateSignal, message),
      );
      return 'sent';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'absent';
      onError?.(err as Error);
      throw new Error(`the gate signal to ${recordWorkflowId(sourceId, seq)} failed: ${(err as Error).message}`, { cause: err });
    }
  };
}
