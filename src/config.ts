// All configuration, read once from the environment and validated at boot. The variables and their
// schema are in config-schema.ts, the regions' Temporal connections in config-regions.ts; import
// them all from here.
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { CliEnvSchema, ConfigError, DEFAULT_DATABASE_URL, EnvSchema, type CliConfig, type Env } from './config-schema';
import { regionConnection, westPort, type RegionConfig } from './config-regions';

export { CliEnvSchema, ConfigError, DEFAULT_DATABASE_URL, EnvSchema, type CliConfig, type Env } from './config-schema';
export { westPort, westUiPort, type ConnectOptions, type RegionConfig } from './config-regions';

export interface Config extends Env {
  regions: RegionConfig[];
  databaseUrl: string;
  dataDir: string;
  /** RETENTION in milliseconds; null: off. */
  retentionMs: number | null;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30d`, `12h`, `90m`, `45s` (the schema's pattern) in milliseconds. */
export function durationMs(text: string): number {
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS];
}

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
  // The real server runs one per region (each its own databases and cluster): shared is not an option.
  if (e.TEMPORAL_SERVER === 'postgres') {
    if (env.REGION_TOPOLOGY === 'shared') {
      throw new ConfigError(
        'invalid configuration: TEMPORAL_SERVER=postgres runs one Temporal server per region; unset REGION_TOPOLOGY or set it to servers',
      );
    }
    e.REGION_TOPOLOGY = 'servers';
  }
  const local = `127.0.0.1:${e.TEMPORAL_PORT}`;
  const westLocal = e.REGION_TOPOLOGY === 'servers' ? `127.0.0.1:${westPort(e)}` : local;
  const regions: RegionConfig[] = [
    regionConnection(env, 'east', e.TEMPORAL_PROFILE_EAST, e.TEMPORAL_PROFILE, e.TEMPORAL_ADDRESS_EAST, e.NAMESPACE_EAST, local),
    regionConnection(env, 'west', e.TEMPORAL_PROFILE_WEST, e.TEMPORAL_PROFILE, e.TEMPORAL_ADDRESS_WEST, e.NAMESPACE_WEST, westLocal),
  ];
  return {
    ...e,
    retentionMs: e.RETENTION === undefined ? null : durationMs(e.RETENTION),
    regions,
    databaseUrl: e.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
  };
}

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(CliEnvSchema.properties)) {
    if (env[key] !== undefined && env[key] !== '') raw[key] = env[key];
  }
  return Value.Default(CliEnvSchema, raw) as CliConfig;
}

export function regionConfig(config: Config, region: string): RegionConfig {
  const found = config.regions.find((r) => r.name === region);
  if (!found) throw new ConfigError(`unknown region ${region}`);
  return found;
}
