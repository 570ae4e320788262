// The reconciler's pass as the control role records it and the API serves it (GET and POST
// /v1/admin/reconcile, /v1/stats, /metrics): a TypeBox schema with derived types.
import { Type, type Static } from '@sinclair/typebox';

export const REPAIR_KINDS = ['missing_run', 'ended_run', 'lost_retry', 'lost_signal', 'stale_block', 'lost_skip', 'leaked_run'] as const;
export type RepairKind = (typeof REPAIR_KINDS)[number];

export const StalledSource = Type.Object({
  sourceId: Type.String(),
  seq: Type.Integer({ description: 'the record first in line' }),
  stage: Type.String(),
  status: Type.String(),
  idleSeconds: Type.Integer(),
  /** Why it does not move, as far as the reconciler can tell. */
  reason: Type.String(),
});
export type StalledSource = Static<typeof StalledSource>;

export type ReconcilePhase = 'list' | 'page' | 'describe' | 'restart' | 'stalled';
// Unsafe only narrows the derived type to the known keys; the JSON schema stays a plain record.
const Counts = <K extends string>(description?: string) =>
  Type.Unsafe<Record<K, number>>(Type.Record(Type.String(), Type.Integer(), description ? { description } : {}));

export const ReconcilePass = Type.Object({
  startedAt: Type.String(),
  durationMs: Type.Integer(),
  region: Type.String(),
  epoch: Type.Integer(),
  checked: Type.Integer({ description: 'open records of the active epoch compared with the running workflows' }),
  running: Type.Integer({ description: 'running record workflows listed in the active region' }),
  repaired: Counts<RepairKind>(),
  deferred: Type.Integer({ description: 'runs to start again left for the next pass (over its budget)' }),
  stalled: Type.Array(StalledSource),
  phasesMs: Counts<ReconcilePhase>('time spent listing runs, paging records, describing suspects, starting runs, inspecting stalls'),
  error: Type.Optional(Type.String()),
});
export type ReconcilePass = Static<typeof ReconcilePass>;

/** What the control role's holder records after each pass, and every replica serves. */
export const ReconcileView = Type.Object({
  passes: Type.Integer({ description: 'passes over every holder of the control role' }),
  repairedTotal: Type.Record(Type.String(), Type.Integer(), { description: 'repairs by kind, over every holder' }),
  last: Type.Union([ReconcilePass, Type.Null()]),
  requestsServed: Type.Integer({ description: "operators' reconcile requests served so far" }),
});
export type ReconcileView = Static<typeof ReconcileView>;
