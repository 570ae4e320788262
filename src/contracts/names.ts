// The one module of names shared by the API, workers, workflows, scripts and tests.
// Imported by workflow code: keep it free of Node builtins and I/O.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const STAGES = ['inbound', 'preprocess', 'core', 'postprocess', 'outbound'] as const;
export type Stage = (typeof STAGES)[number];

/** The records table's status column (its CHECK constraint), as GET .../records/:seq shows it. */
export const RECORD_STATUSES = ['accepted', 'processing', 'blocked', 'delivered', 'skipped'] as const;
export type RecordStatus = (typeof RECORD_STATUSES)[number];

export const REGIONS = ['east', 'west'] as const;
export type Region = (typeof REGIONS)[number];

/** A worker process serves one stage's task queue, or the workflow task queue. */
export type WorkerRole = Stage | 'workflows';
export const WORKER_ROLES: readonly WorkerRole[] = ['workflows', ...STAGES];

export const WORKFLOW_TASK_QUEUE = 'records';
export const RECORD_WORKFLOW_TYPE = 'recordWorkflow';

/** Each stage's activity runs on a task queue named after the stage. */
export function stageTaskQueue(stage: Stage): string {
  return stage;
}

export function taskQueueFor(role: WorkerRole): string {
  return role === 'workflows' ? WORKFLOW_TASK_QUEUE : stageTaskQueue(role);
}

export const ALL_TASK_QUEUES: readonly string[] = WORKER_ROLES.map(taskQueueFor);

export function recordWorkflowId(sourceId: string, seq: number): string {
  return `record:${sourceId}:${seq}`;
}

/** The record a workflow id names (source ids have no colon), or null for another id. */
export function parseRecordWorkflowId(id: string): { source_id: string; seq: number } | null {
  const m = /^record:([^:]+):(\d+)$/.exec(id);
  return m ? { source_id: m[1], seq: Number(m[2]) } : null;
}

export function defaultNamespace(region: string): string {
  return `pipeline-${region}`;
}

export function workerProcessTitle(region: string, role: WorkerRole): string {
  return `pipeline-worker:${region}:${role}`;
}

export function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}

export function isRegion(value: string): value is Region {
  return (REGIONS as readonly string[]).includes(value);
}

export function nextStage(stage: Stage): Stage | undefined {
  return STAGES[STAGES.indexOf(stage) + 1];
}

export const SA = {
  sourceId: defineSearchAttributeKey('SourceId', SearchAttributeType.KEYWORD),
  recordSeq: defineSearchAttributeKey('RecordSeq', SearchAttributeType.INT),
  stage: defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD),
  region: defineSearchAttributeKey('Region', SearchAttributeType.KEYWORD),
} as const;

/** Name → type, as the Temporal operator API and `temporal server start-dev` register them. */
export const SEARCH_ATTRIBUTES = {
  SourceId: 'Keyword',
  RecordSeq: 'Int',
  Stage: 'Keyword',
  Region: 'Keyword',
} as const;

/** Values of the Stage search attribute besides the stage names. */
export const STAGE_DELIVERED = 'delivered';
export const STAGE_SKIPPED = 'skipped';
export const STAGE_SUPERSEDED = 'superseded';

export const SOURCE_ID_PATTERN = '^[A-Za-z0-9._-]{1,128}$';
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9._-]{1,200}$';
