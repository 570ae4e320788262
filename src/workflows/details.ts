// What the Temporal Web UI shows as a record's "Current Details": the record's own words for where
// it is and, when it is blocked, what the operator can do. Pure and workflow-safe (no I/O); the
// workflow sets it with setCurrentDetails, which writes nothing to the history.
import { STAGES, type Stage } from '../contracts/names';
import type { RecordPhase } from '../contracts/record.messages';

export interface DetailsInput {
  sourceId: string;
  seq: number;
  phase: RecordPhase;
  stage: Stage | null;
  /** The record it waits for at `stage` (phase `waiting`). */
  waitingFor?: number;
  /** Why the stage rejected the record (phase `blocked`), or why it was fenced (`superseded`). */
  reason?: string;
  /** Phase `running` at outbound: the webhook destination's last answer, while the call is retried. */
  destination?: { error: string; attempts: number; delayMs: number };
}

export function currentDetails(d: DetailsInput): string {
  const record = `${d.sourceId} #${d.seq}`;
  const at = d.stage ? ` (stage ${STAGES.indexOf(d.stage) + 1} of ${STAGES.length})` : '';
  switch (d.phase) {
    case 'running':
      if (d.destination) {
        const view = `/v1/sources/${encodeURIComponent(d.sourceId)}/records/${d.seq}`;
        return [
          `**Waiting for the destination**${at}: ${d.destination.error} (attempt ${d.destination.attempts}).`,
          '',
          `${record} is called again with backoff, next in ${Math.round(d.destination.delayMs / 100) / 10} s; later records of ${d.sourceId} wait behind it. \`GET ${view}\` shows the attempts and the endpoint's latest answer.`,
        ].join('\n');
      }
      return d.stage ? `**Running ${d.stage}**${at} for ${record}.` : `**Starting** ${record}.`;
    case 'waiting':
      return `**Waiting at ${d.stage}**${at}: the ordering gate holds ${record} until record #${d.waitingFor} of ${d.sourceId} has finished ${d.stage}.`;
    case 'blocked': {
      const base = `/v1/sources/${encodeURIComponent(d.sourceId)}/records/${d.seq}`;
      return [
        `**Blocked at ${d.stage}**${at}: ${d.reason || 'the stage rejected the record'}`,
        '',
        `Later records of ${d.sourceId} wait behind ${record} at ${d.stage}. Fix the cause, then either`,
        `- \`POST ${base}/retry\` to run ${d.stage} again, or`,
        `- \`POST ${base}/skip\` with \`{"reason": "..."}\` to dead-letter it and let the source go on.`,
      ].join('\n');
    }
    case 'superseded':
      return `**Superseded** at ${d.stage}: ${d.reason || 'a failover moved the record to another region'}. The newly active region carries ${record} on.`;
    case 'skipped':
      return `**Skipped** at ${d.stage}: an operator skipped ${record}; it is in dead_letters and later records go on.`;
    case 'delivered':
      return `**Delivered**: ${record} finished all ${STAGES.length} stages.`;
  }
}
