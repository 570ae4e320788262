// All configuration, read once from the environment and validated at boot.
import path from 'node:path';
import os from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { defaultNamespace, REGIONS, type Region } from './names';

const Int = (def: number, min = 0) => Type.Integer({ default: def, minimum: min });

export const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', description: 'address the API listens on' }),
  PORT: Int(3000),
  DATABASE_URL: Type.Optional(Type.String({ description: 'Postgres; default the local server, else an embedded one' })),
  DATA_DIR: Type.String({ default: '.data', description: 'dev server db, embedded Postgres, lock file' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  TEMPORAL_ADDRESS: Type.Optional(Type.String({ description: 'use this Temporal server instead of a dev server' })),
  TEMPORAL_ADDRESS_EAST: Type.Optional(Type.String()),
  TEMPORAL_ADDRESS_WEST: Type.Optional(Type.String()),
  TEMPORAL_PORT: Int(7233, 1),
  TEMPORAL_UI_PORT: Int(8233, 0),
  REGION_TOPOLOGY: Type.Union([Type.Literal('shared'), Type.Literal('servers')], {
    default: 'shared',
    description: 'shared: both namespaces on one dev server; servers: one dev server per region',
  }),
  TEMPORAL_PORT_WEST: Type.Optional(Type.Integer({ minimum: 1, description: 'west dev server port (servers topology)' })),
  TEMPORAL_UI_PORT_WEST: Type.Optional(Type.Integer({ minimum: 0 })),
  TEMPORAL_CLI: Type.Optional(Type.String({ description: 'path of the temporal CLI' })),
  TEMPORAL_CLI_CACHE: Type.String({
    default: path.join(os.homedir(), '.cache', 'record-pipeline'),
    description: 'where the temporal CLI is built once and reused',
  }),
  NAMESPACE_EAST: Type.String({ default: defaultNamespace('east') }),
  NAMESPACE_WEST: Type.String({ default: defaultNamespace('west') }),
  ACTIVE_REGION: Type.Union(REGIONS.map((r) => Type.Literal(r)), { default: 'east', description: 'initially active' }),
  FAILOVER: Type.Union([Type.Literal('auto'), Type.Literal('manual')], { default: 'auto' }),
  HEALTH_INTERVAL_MS: Int(2000, 100),
  FAILOVER_THRESHOLD: Int(3, 1),
  POLLER_LIVENESS_MS: Int(30_000, 1000),
  RELAY_INTERVAL_MS: Int(2000, 50),
  START_CONCURRENCY: Int(32, 1),
  GATE_NUDGE_SECONDS: Type.Integer({ default: 30, minimum: 1, description: 'nudge a record first in line this long without progress' }),
  ACTIVITY_TIMEOUT_MS: Int(10_000, 100),
  RETRY_MAX_INTERVAL_MS: Int(5_000, 10),
  WORKER_RESTART_MAX_MS: Int(30_000, 10),
  STAGE_DELAY_MS: Type.Integer({ default: 0, minimum: 0, description: 'simulated work time per stage activity (demos, tests)' }),
  BODY_LIMIT_BYTES: Int(16 * 1024 * 1024, 1024),
  PG_POOL_MAX: Int(10, 1),
  AUTH: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on', description: 'off: no credentials checked (local experiments only)' }),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, description: 'the admin bearer token; npm start generates one when unset' })),
  RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 6000, minimum: 1, description: 'requests per minute per source key (and per IP without a key)' }),
  SUBMIT_MAX_INFLIGHT: Type.Integer({ default: 64, minimum: 1, description: 'submits in progress at once; more are answered 503' }),
  REQUEST_TIMEOUT_MS: Int(60_000, 1000),
  CONNECTION_TIMEOUT_MS: Int(30_000, 1000),
});
export type Env = Static<typeof EnvSchema>;

export interface RegionConfig {
  name: Region;
  namespace: string;
  address: string;
}

export interface Config extends Env {
  regions: RegionConfig[];
  databaseUrl: string;
  dataDir: string;
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/pipeline';

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    if (env[key] !== undefined && env[key] !== '') raw[key] = env[key];
  }
  const value = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw));
  const errors = [...Value.Errors(EnvSchema, value)];
  if (errors.length > 0) {
    const details = errors.map((e) => `${e.path.slice(1) || '(env)'}: ${e.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${details}`);
  }
  const e = value as Env;
  const local = `127.0.0.1:${e.TEMPORAL_PORT}`;
  const westLocal = e.REGION_TOPOLOGY === 'servers' ? `127.0.0.1:${westPort(e)}` : local;
  const regions: RegionConfig[] = [
    { name: 'east', namespace: e.NAMESPACE_EAST, address: e.TEMPORAL_ADDRESS_EAST ?? e.TEMPORAL_ADDRESS ?? local },
    { name: 'west', namespace: e.NAMESPACE_WEST, address: e.TEMPORAL_ADDRESS_WEST ?? e.TEMPORAL_ADDRESS ?? westLocal },
  ];
  return {
    ...e,
    regions,
    databaseUrl: e.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
  };
}

/** The west dev server's ports in the two-server topology: by default the east ones plus one. */
export function westPort(e: Env): number {
  return e.TEMPORAL_PORT_WEST ?? e.TEMPORAL_PORT + 1;
}
export function westUiPort(e: Env): number {
  return e.TEMPORAL_UI_PORT_WEST ?? (e.TEMPORAL_UI_PORT === 0 ? 0 : e.TEMPORAL_UI_PORT + 1);
}

export function regionConfig(config: Config, region: string): RegionConfig {
  const found = config.regions.find((r) => r.name === region);
  if (!found) throw new ConfigError(`unknown region ${region}`);
  return found;
}
