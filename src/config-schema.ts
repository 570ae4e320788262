// What the environment may set: the schema of every process's variables (EnvSchema) and of the
// command-line tool's (CliEnvSchema), validated at boot by loadConfig (src/config.ts). Each entry
// documents itself: docs/configuration.md is generated from these schemas.
import path from 'node:path';
import os from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { REGIONS } from './contracts/names';

const Int = (def: number, min: number, description: string) => Type.Integer({ default: def, minimum: min, description });

// Every entry has a `description` (Markdown) and, where the schema's own `default` does not say it
// (unset, computed, or taken from another variable), a `docDefault`: docs/configuration.md is
// generated from both (`npm run docs:config`) and a unit test keeps it that way.
export const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'address the API listens on (`0.0.0.0` in containers)' }),
  PORT: Int(3000, 0, 'API port'),
  DATABASE_URL: Type.Optional(
    Type.String({
      docDefault: 'local server, else embedded',
      description: 'Postgres (`postgres://postgres@127.0.0.1:5432/pipeline`); the database is created if missing',
    }),
  ),
  DATA_DIR: Type.String({ default: '.data', description: 'dev server state, embedded Postgres, logs, the lock file' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino level' },
  ),
  LOG_FORMAT: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
    default: 'auto',
    description:
      "`auto`: pretty on a terminal, JSON lines otherwise (the supervisor's children always write JSON to `.data/logs`); `json`; `pretty`. Pretty needs the dev dependency `pino-pretty` and is never used with `NODE_ENV=production` (JSON then)",
  }),
  TEMPORAL_ADDRESS: Type.Optional(Type.String({ description: 'use this Temporal server instead of starting a dev server' })),
  TEMPORAL_ADDRESS_EAST: Type.Optional(
    Type.String({ docDefault: '`TEMPORAL_ADDRESS`', description: "per-region servers: east's Temporal server" }),
  ),
  TEMPORAL_ADDRESS_WEST: Type.Optional(
    Type.String({ docDefault: '`TEMPORAL_ADDRESS`', description: "per-region servers: west's Temporal server" }),
  ),
  // The standard Temporal environment configuration (@temporalio/envconfig) also reads
  // TEMPORAL_CONFIG_FILE, TEMPORAL_API_KEY, TEMPORAL_TLS* and TEMPORAL_GRPC_META_*; see regionConnection() in config-regions.ts.
  TEMPORAL_PROFILE: Type.Optional(
    Type.String({
      docDefault: '`default`',
      description:
        'profile of the Temporal config file (`TEMPORAL_CONFIG_FILE`, default `~/.config/temporalio/temporal.toml`) for both regions: address, TLS, API key',
    }),
  ),
  TEMPORAL_PROFILE_EAST: Type.Optional(
    Type.String({
      docDefault: '`TEMPORAL_PROFILE`',
      description: "east's own profile (its address, namespace, TLS, API key); see [Production settings](#production-settings)",
    }),
  ),
  TEMPORAL_PROFILE_WEST: Type.Optional(
    Type.String({
      docDefault: '`TEMPORAL_PROFILE`',
      description: "west's own profile (its address, namespace, TLS, API key); see [Production settings](#production-settings)",
    }),
  ),
  TEMPORAL_PORT: Int(7233, 1, "port of the Temporal server `npm start` runs (east's, in the `servers` topology)"),
  TEMPORAL_UI_PORT: Int(8233, 0, "the dev server's Web UI (`0`: headless)"),
  REGION_TOPOLOGY: Type.Union([Type.Literal('shared'), Type.Literal('servers')], {
    default: 'shared',
    description: '`shared`: both namespaces on one dev server; `servers`: one dev server per region',
  }),
  TEMPORAL_SERVER: Type.Union([Type.Literal('dev'), Type.Literal('postgres')], {
    default: 'dev',
    description:
      "`npm start`: the Temporal it runs. `dev`: the CLI's dev server (SQLite in `DATA_DIR`); `postgres`: the real Temporal server (v1.31.2, built once into `TEMPORAL_CLI_CACHE`) on the pipeline's Postgres, one per region (it implies `REGION_TOPOLOGY=servers`; `shared` is refused), its databases `<database>_temporal_<region>` and `<database>_temporal_<region>_visibility`, and a Web UI per region (the ui-server, built the same way). See [the real server](operations.md#the-real-temporal-server-on-postgres)",
  }),
  TEMPORAL_PORT_WEST: Type.Optional(
    Type.Integer({ minimum: 1, docDefault: '`TEMPORAL_PORT + 1`', description: "the west server's port in the `servers` topology" }),
  ),
  TEMPORAL_UI_PORT_WEST: Type.Optional(
    Type.Integer({
      minimum: 0,
      docDefault: '`TEMPORAL_UI_PORT + 1` (`0` when that is `0`)',
      description: "the west dev server's Web UI in the `servers` topology",
    }),
  ),
  TEMPORAL_CLI: Type.Optional(Type.String({ description: 'path of the `temporal` CLI (else `PATH`, else the cache)' })),
  TEMPORAL_CLI_CACHE: Type.String({
    default: path.join(os.homedir(), '.cache', 'record-pipeline'),
    docDefault: '`~/.cache/record-pipeline`',
    description:
      'where the `temporal` CLI (and with `TEMPORAL_SERVER=postgres` the Temporal server and its SQL tool) is built once and reused',
  }),
  NAMESPACE_EAST: Type.Optional(
    Type.String({ docDefault: "east's profile namespace, else `pipeline-east`", description: "the east region's namespace" }),
  ),
  NAMESPACE_WEST: Type.Optional(
    Type.String({ docDefault: "west's profile namespace, else `pipeline-west`", description: "the west region's namespace" }),
  ),
  ACTIVE_REGION: Type.Union(
    REGIONS.map((r) => Type.Literal(r)),
    { default: 'east', description: 'the region active on first start' },
  ),
  FAILOVER: Type.Union([Type.Literal('auto'), Type.Literal('manual')], {
    default: 'auto',
    description: '`auto`: fail over when the active region is unhealthy; `manual`: only by hand',
  }),
  HEALTH_INTERVAL_MS: Int(2000, 100, 'how often the active region is probed'),
  FAILOVER_THRESHOLD: Int(3, 1, 'failed probes in a row before an automatic failover'),
  FAILOVER_STARTUP_GRACE_MS: Int(
    30_000,
    0,
    "after the API starts, a region it has not yet seen healthy may lack workers' pollers this long before its probes count as failed (its workers may still be starting); an unreachable server counts at once",
  ),
  FAILOVER_COOLDOWN_MS: Int(
    60_000,
    0,
    'after a failover (automatic or by hand), no automatic one for this long: the regions never flap, and every switch re-drives every open record',
  ),
  FAILOVER_DEADLINE_MS: Int(
    10_000,
    500,
    "a failover waits this long at most for the region lock (ending the old region's sessions that hold it) before it is refused with `503 failover_busy`, nothing changed",
  ),
  POLLER_LIVENESS_MS: Int(30_000, 1000, 'a poller seen within this long counts as live (the dev servers re-poll every 10 s)'),
  CONTROL: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description:
      '`on`: this API process competes for the control role (the relay and start window, sweeper, reconciler and region router run in one process at a time, the holder of a lease in Postgres); `off`: it only serves HTTP (`node dist/src/control/main.js` runs the role without HTTP)',
  }),
  CONTROL_LEASE_TTL_MS: Int(
    5_000,
    500,
    "the control role's lease lasts this long unless renewed: a holder that dies, hangs or loses Postgres is replaced within about this plus `CONTROL_LEASE_RENEW_MS`",
  ),
  CONTROL_LEASE_RENEW_MS: Int(1_000, 100, 'how often the holder renews the lease, and the others try to take it'),
  RELAY_INTERVAL_MS: Int(2000, 50, 'how often the relay looks for records without a workflow'),
  START_CONCURRENCY: Int(32, 1, 'workflow starts in flight at once'),
  GATE_NUDGE_SECONDS: Int(30, 1, 'nudge a record first in line this long without progress'),
  SWEEPER: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description:
      "`on`: the sweeper's fallback nudge of the gate; `off`: no nudges from the sweeper (the reconciler alone repairs lost gate signals; for tests and chaos runs)",
  }),
  RECONCILE_INTERVAL_MS: Int(15_000, 100, 'how often the reconciler compares the open records with their workflows'),
  RECONCILE_STALL_SECONDS: Int(
    60,
    1,
    'a source whose first record in line has not moved this long is reported stalled, and its workflow asked why',
  ),
  RECONCILE_GRACE_SECONDS: Int(10, 0, 'records started less than this long ago are not compared (their run may not be listed yet)'),
  RECONCILE_MAX_REPAIRS: Int(500, 1, 'runs the reconciler starts again per pass at most (the rest next pass)'),
  RETENTION: Type.Optional(
    Type.String({
      pattern: '^[1-9][0-9]*(s|m|h|d)$',
      docDefault: 'unset: off, nothing is removed',
      description:
        'finished records (delivered or skipped) older than this (`30d`, `12h`, `90m`, `45s`) are removed with their stage rows and deliveries, oldest first, in small batches by the control role; see [Retention](operations.md#retention)',
    }),
  ),
  RETENTION_INTERVAL_MS: Int(60_000, 100, 'how often the control role removes what `RETENTION` lets go'),
  RETENTION_BATCH: Int(500, 1, 'records of one source removed per transaction at most (their stage rows and deliveries with them)'),
  WORKFLOW_HISTORY_LIMIT: Int(2000, 10, "a record's workflow continues as new past this many history events while it waits"),
  ACTIVITY_TIMEOUT_MS: Int(10_000, 100, "start-to-close timeout of a stage activity (a killed worker's task is retried after it)"),
  RETRY_MAX_INTERVAL_MS: Int(5_000, 10, 'longest backoff between stage retries'),
  WORKER_RESTART_MAX_MS: Int(30_000, 10, 'longest backoff before the supervisor restarts a dead process'),
  WORKER_NICE: Type.Integer({
    default: 10,
    minimum: 0,
    maximum: 19,
    description:
      '`npm start`: niceness of the worker processes and the Temporal dev servers the launcher starts (through `nice`, where there is one). On one host they share the CPU with the API: under load the API answers first, and a submit stays fast while they are busy; `0`: the same priority as the API',
  }),
  GATE_WAIT_MS: Int(
    5_000,
    0,
    'how long a stage attempt whose predecessor has not finished the stage waits in its activity for that commit (woken by Postgres NOTIFY) before its workflow waits for a signal instead; at most half of `ACTIVITY_TIMEOUT_MS`; `0`: always the signal',
  ),
  START_WINDOW: Int(
    4,
    0,
    "a record's workflow is started only once the record is at most this far past its source's inbound watermark (the rest wait in Postgres and start as inbound moves); `0`: every record is started when accepted",
  ),
  START_WINDOW_BUDGET: Int(
    12,
    0,
    'the start windows of the sources with a backlog share this many records: each gets `START_WINDOW` while few have one, down to 1 each when many do (a short fill at a many-source burst, a full window for a hot source); `0`: every source `START_WINDOW`',
  ),
  GATE_WAIT_AHEAD: Int(
    12,
    1,
    "a stage attempt waits in its activity only behind at most this many unfinished earlier records of its source (the start window keeps about 8 to 10 open); further behind, or with half of its worker's 100 activity slots waiting already, it waits for a signal (a waiting activity holds a worker slot)",
  ),
  STAGE_DELAY_MS: Int(0, 0, 'simulated work time per stage activity (demos, tests)'),
  STAGE_TX_DELAY_MS: Int(
    0,
    0,
    'tests only: each stage write holds its transaction open this long right after its fence check (the zombie test pauses a worker there); `0`: off',
  ),
  WEBHOOK_TIMEOUT_MS: Int(
    5_000,
    100,
    "a webhook destination's call waits this long at most for the endpoint's answer (and at most 80 % of the activity's timeout); no answer counts as a failed call, tried again",
  ),
  WEBHOOK_CONNECTIONS: Int(
    10,
    1,
    'webhook calls in flight at once per outbound worker process: each holds a Postgres connection of this pool for its duration (its transaction keeps the failover fence), apart from `PG_POOL_MAX`, so slow endpoints never hold up the deliveries to the table',
  ),
  WEBHOOK_MAX_BACKOFF_MS: Int(
    30_000,
    100,
    'between failed webhook calls of a record the wait doubles from 1 s up to this (a `Retry-After` is honoured up to an hour); a disabled destination (410) is looked at again this often',
  ),
  BODY_LIMIT_BYTES: Int(16 * 1024 * 1024, 1024, 'largest request body'),
  PG_POOL_MAX: Int(10, 1, 'Postgres connections per process'),
  WORKERS_PER_STAGE: Int(
    1,
    1,
    "`npm start`: worker processes per region and stage (each polls its stage's task queue; the workflow worker stays one per region)",
  ),
  METRICS_MAX_SOURCES: Int(20, 0, 'sources with their own `source` label in `/metrics` (in order of creation); the rest are `other`'),
  METRICS_PORT_BASE: Int(
    9470,
    0,
    "`npm start`: Prometheus port of the first worker process's Temporal SDK metrics, the others follow (12 ports); `0`: off",
  ),
  METRICS_PORT: Int(
    0,
    0,
    "one worker process's Temporal SDK metrics port (the supervisor sets it; set it by hand in containers); `0`: off",
  ),
  METRICS_HOST: Type.String({
    default: '127.0.0.1',
    description: "address the workers' metrics endpoints listen on (`0.0.0.0` in containers)",
  }),
  AUTH: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description: '`off`: no credentials are checked, every caller is admin (local experiments only; `npm start` warns loudly)',
  }),
  ADMIN_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      docDefault: 'generated by `npm start`',
      description:
        'the admin bearer token (at least 16 characters); `npm start` keeps a generated one in `<DATA_DIR>/admin-token` (mode 0600); the API process alone refuses to start without it when `AUTH=on`',
    }),
  ),
  RATE_LIMIT_PER_MINUTE: Int(
    6000,
    1,
    'requests per minute per source key (per client IP for public routes); `429` with `Retry-After` beyond it; the admin token is not limited',
  ),
  AUTH_FAILURES_PER_MINUTE: Int(
    20,
    1,
    'failed authentications per minute per client IP (per API process); beyond it they are answered `429` with `Retry-After`; valid tokens are never refused by it',
  ),
  SUBMIT_MAX_INFLIGHT: Int(64, 1, 'submits being checkpointed at once; beyond it `503 overloaded` with `Retry-After: 1`, nothing written'),
  REQUEST_TIMEOUT_MS: Int(60_000, 1000, 'longest time to receive a whole request'),
  CONNECTION_TIMEOUT_MS: Int(30_000, 1000, 'an idle socket is closed after this long'),
  WEBHOOK_ALLOWED_HOSTS: Type.String({
    default: '',
    pattern: '^[\\sA-Za-z0-9.:,\\[\\]_-]*$',
    docDefault: 'empty: none',
    description:
      'comma-separated host names or addresses (`localhost,10.0.0.7,::1`, compared case-insensitively) that a webhook destination may point at although they are loopback or private, and over plain `http`; every other endpoint must be a public `https` URL. See [Pointing a source at an endpoint](operations.md#pointing-a-source-at-an-endpoint)',
  }),
  // Read by the OpenTelemetry SDK itself (src/telemetry): listed here to be validated and documented.
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(
    Type.String({
      docDefault: 'unset: tracing off',
      description:
        'turns tracing on: the OTLP/HTTP collector every process sends its spans to (e.g. `http://localhost:4318`); unset, the OpenTelemetry SDK is not even loaded. See [tracing](tracing.md)',
    }),
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(
    Type.Union([Type.Literal('http/protobuf'), Type.Literal('http/json')], {
      docDefault: '`http/protobuf`',
      description: 'OTLP over HTTP, as protobuf or JSON (gRPC is not included)',
    }),
  ),
  OTEL_SERVICE_NAME: Type.Optional(
    Type.String({
      docDefault: '`record-pipeline-api`, `record-pipeline-worker-<region>-<role>`',
      description:
        "the service name of a process's spans; leave it unset where one environment serves several processes (`npm start`), so that each keeps its own",
    }),
  ),
});
export type Env = Static<typeof EnvSchema>;

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/pipeline';

/** The command-line tool's own settings (`npx pipeline`); flags override them. */
export const CliEnvSchema = Type.Object({
  PIPELINE_URL: Type.String({ default: 'http://127.0.0.1:3000', description: 'the API it talks to (`--url`)' }),
  PIPELINE_TOKEN: Type.Optional(Type.String({ description: 'sent as `Authorization: Bearer <token>` (`--token`)' })),
  DATABASE_URL: Type.String({ default: DEFAULT_DATABASE_URL, description: 'what `pipeline verify` checks (`--database-url`)' }),
});
export type CliConfig = Static<typeof CliEnvSchema>;

/** A setting that is invalid, or a Temporal connection that cannot be resolved: the process does not start. */
export class ConfigError extends Error {}
