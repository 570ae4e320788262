// TypeBox schemas of the HTTP API; request and response types are derived from them.
import { Type, type Static } from '@sinclair/typebox';
import { CLIENT_ID_PATTERN, RECORD_STATUSES, SOURCE_ID_PATTERN, STAGES } from '../contracts/names';
import { MAX_BATCH, MAX_PAYLOAD_BYTES } from '../contracts/limits';
import { WorkerInfo } from '../contracts/control';
import { KEY_ID_PATTERN } from './credentials';
import { ReconcileView } from '../contracts/reconcile';
import { ControlView } from '../contracts/control-role';

export const ErrorBody = Type.Object(
  { error: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) },
  { $id: 'Error' },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const SourceParams = Type.Object({ sourceId: Type.String({ pattern: SOURCE_ID_PATTERN }) });
export const RecordParams = Type.Object({
  sourceId: Type.String({ pattern: SOURCE_ID_PATTERN }),
  // Bounded so that a huge number is a 400 here, not a bigint overflow in Postgres.
  seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
});

export const SubmitBody = Type.Object(
  {
    records: Type.Array(
      Type.Object(
        {
          id: Type.String({ pattern: CLIENT_ID_PATTERN, description: "the client's id; resubmitting it is idempotent" }),
          payload: Type.Object({}, { additionalProperties: true, description: `a JSON object, at most ${MAX_PAYLOAD_BYTES} bytes` }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_BATCH },
    ),
  },
  { additionalProperties: false },
);
export type SubmitBody = Static<typeof SubmitBody>;

export const SubmitReply = Type.Object({
  records: Type.Array(Type.Object({ id: Type.String(), seq: Type.Integer(), duplicate: Type.Boolean() })),
});

const StageMap = <T extends ReturnType<typeof Type.Integer> | ReturnType<typeof Type.Object>>(v: T) =>
  Type.Object(Object.fromEntries(STAGES.map((s) => [s, Type.Optional(v)])));

export const RecordStatus = Type.Union(RECORD_STATUSES.map((s) => Type.Literal(s)));

export const WebhookAttempts = Type.Object({
  attempts: Type.Integer({ description: 'failed calls so far' }),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: "the endpoint's last HTTP status (null: no answer)" }),
  lastError: Type.String({ description: "the last answer's status and first bytes, or why there was none" }),
  lastAt: Type.String(),
  nextAttemptAt: Type.Union([Type.String(), Type.Null()], { description: 'when the next call is due (null: the record is blocked)' }),
});

export const RecordReply = Type.Object({
  sourceId: Type.String(),
  seq: Type.Integer(),
  id: Type.String(),
  status: RecordStatus,
  stage: Type.Union([Type.String(), Type.Null()], { description: 'the stage the record is at, or null when done' }),
  region: Type.Union([Type.String(), Type.Null()]),
  epoch: Type.Union([Type.Integer(), Type.Null()]),
  workflowId: Type.String(),
  acceptedAt: Type.String(),
  stages: StageMap(Type.Object({ at: Type.String(), region: Type.String(), epoch: Type.Integer() })),
  deliveredAt: Type.Union([Type.String(), Type.Null()]),
  blocked: Type.Union([Type.Object({ stage: Type.String(), reason: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  traceId: Type.Union([Type.String(), Type.Null()], {
    description: "the OpenTelemetry trace id of the record's trace (null when tracing was off when it was accepted)",
  }),
  webhook: Type.Union([WebhookAttempts, Type.Null()], {
    description: "a webhook destination's failed calls of this record while it still tries (null: none failed, or it is delivered)",
  }),
});
export type RecordReply = Static<typeof RecordReply>;

export const SourceReply = Type.Object({
  sourceId: Type.String(),
  lastSeq: Type.Integer(),
  watermarks: Type.Object({
    ...Object.fromEntries(STAGES.map((s) => [s, Type.Integer()])),
    delivered: Type.Integer(),
  }),
  counts: Type.Record(Type.String(), Type.Integer()),
  blocked: Type.Union([
    Type.Object({ seq: Type.Integer(), id: Type.String(), stage: Type.String(), reason: Type.Union([Type.String(), Type.Null()]) }),
    Type.Null(),
  ]),
});

export const DeliveriesQuery = Type.Object(
  {
    after: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);

export const DeliveriesReply = Type.Object({
  sourceId: Type.String(),
  deliveries: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      id: Type.String(),
      region: Type.String(),
      epoch: Type.Integer(),
      deliveredAt: Type.String(),
      output: Type.Unknown(),
    }),
  ),
  next: Type.Union([Type.Integer(), Type.Null()], { description: 'pass as `after` for the next page' }),
});

export const WorkersReply = Type.Object({ supervised: Type.Boolean(), workers: Type.Array(WorkerInfo) });

export const LiveReply = Type.Object({ status: Type.Literal('ok'), pid: Type.Integer(), uptimeSeconds: Type.Integer() });

export const ReadyCheck = Type.Object({
  name: Type.String({ description: 'postgres, temporal:<region>, or pollers:<task queue>' }),
  ok: Type.Boolean(),
  latencyMs: Type.Number(),
  reason: Type.Optional(Type.String()),
});
export type ReadyCheck = Static<typeof ReadyCheck>;
export const ReadyReply = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')], {
    description:
      'ready: every check passed; degraded: records are accepted, but Temporal or its pollers fail (their starts wait); unavailable: Postgres fails (503)',
  }),
  activeRegion: Type.String(),
  checks: Type.Array(ReadyCheck),
});

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);
export const StatsQuery = Type.Object(
  {
    sources: Type.Integer({
      minimum: 0,
      maximum: 1000,
      default: 100,
      description: 'list at most this many sources: those with open work first, then the others, each by id',
    }),
  },
  { additionalProperties: false },
);
export const StatsReply = Type.Object({
  at: Type.String(),
  activeRegion: Type.String(),
  epoch: Type.Integer(),
  regions: Type.Array(
    Type.Object({
      name: Type.String(),
      namespace: Type.String(),
      active: Type.Boolean(),
      reachable: Type.Boolean(),
      reason: Type.Optional(Type.String()),
      queues: Type.Array(
        Type.Object({
          name: Type.String(),
          type: Type.String(),
          pollers: Type.Integer(),
          backlogCount: Nullable(Type.Number({ description: 'approximate, from the server' })),
          backlogAgeSeconds: Nullable(Type.Number({ description: 'approximate age of the oldest task' })),
        }),
      ),
    }),
  ),
  stages: Type.Array(
    Type.Object({
      stage: Type.String(),
      inFlight: Type.Integer({ description: 'finished the previous stage (or accepted), not this one' }),
      oldestWaitingSeconds: Nullable(Type.Number()),
    }),
  ),
  relayBacklog: Type.Object({ count: Type.Integer(), oldestSeconds: Nullable(Type.Number()) }),
  totals: Type.Object({
    windowSeconds: Type.Integer(),
    accepted: Type.Integer(),
    delivered: Type.Integer(),
  }),
  control: ControlView,
  reconciler: Type.Object({
    passes: Type.Integer({ description: 'passes over every holder of the control role' }),
    lastPassAt: Type.Union([Type.String(), Type.Null()]),
    lastPassMs: Type.Union([Type.Integer(), Type.Null()]),
    repairedTotal: Type.Record(Type.String(), Type.Integer(), { description: 'repairs by kind over every holder of the control role' }),
    stalledSources: Type.Integer({ description: 'sources stalled at the last pass (listed in GET /v1/admin/reconcile)' }),
  }),
  webhooks: Type.Object(
    {
      retrying: Type.Integer({ description: 'records whose webhook calls failed and that try again (their sources wait behind them)' }),
      refused: Type.Integer({ description: "records blocked by their endpoint's answer (a 4xx): retry or skip them" }),
      failedAttempts: Type.Integer({ description: 'failed calls of those records, together' }),
      recent: Type.Array(Type.Composite([Type.Object({ sourceId: Type.String(), seq: Type.Integer() }), WebhookAttempts]), {
        description: 'the latest failures, newest first (at most 10)',
      }),
      disabledTotal: Type.Integer({
        description: 'destinations a 410 Gone disabled (their sources are held until an admin sets them again)',
      }),
      disabled: Type.Array(Type.Object({ sourceId: Type.String(), disabledAt: Type.String(), reason: Type.String() }), {
        description: 'at most 10 of them',
      }),
    },
    { description: 'webhook destinations: failed calls of records still open, and disabled destinations' },
  ),
  sourcesTotal: Type.Integer(),
  sources: Type.Array(
    Type.Object({
      sourceId: Type.String(),
      lastSeq: Type.Integer(),
      watermarks: SourceReply.properties.watermarks,
      blocked: SourceReply.properties.blocked,
    }),
  ),
});
export type StatsReply = Static<typeof StatsReply>;

/** The reconciler's passes as the control role's holder recorded them: the same through every replica. */
export const ReconcileReply = ReconcileView;

export const KeyParams = Type.Object({
  sourceId: Type.String({ pattern: SOURCE_ID_PATTERN }),
  keyId: Type.String({ pattern: KEY_ID_PATTERN }),
});
export const KeyCreated = Type.Object({
  keyId: Type.String(),
  key: Type.String({ description: 'the bearer token; shown only in this answer' }),
  sourceId: Type.String(),
  createdAt: Type.String(),
});
export const KeyInfo = Type.Object({
  keyId: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()], { description: 'updated at most once a minute' }),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
export const KeyList = Type.Object({ sourceId: Type.String(), keys: Type.Array(KeyInfo) });
