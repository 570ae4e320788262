// Each region's Temporal connection (address, namespace, TLS, API key), resolved from the standard
// Temporal environment configuration and the region's own variables; and the west dev server's ports.
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { defaultNamespace, type Region } from './contracts/names';
import { ConfigError, type Env } from './config-schema';

/** TLS, API key and gRPC metadata of a region's Temporal connection (client and worker alike). */
export interface ConnectOptions {
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface RegionConfig {
  name: Region;
  namespace: string;
  address: string;
  connect: ConnectOptions;
  /** The address came from the settings (a real cluster or Cloud), not the local dev server default. */
  external: boolean;
}

/**
 * A region's Temporal connection through the standard environment configuration: the profile of
 * the TOML file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml), overridden by
 * TEMPORAL_ADDRESS, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_GRPC_META_*; then the region's own
 * TEMPORAL_ADDRESS_<REGION> and NAMESPACE_<REGION>. TEMPORAL_NAMESPACE is not used: two regions
 * need two namespaces (NAMESPACE_<REGION>, or the namespace of TEMPORAL_PROFILE_<REGION>). Nothing set: the local dev server, namespace pipeline-<region>.
 */
export function regionConnection(
  env: NodeJS.ProcessEnv,
  name: Region,
  regionProfile: string | undefined,
  sharedProfile: string | undefined,
  address: string | undefined,
  namespace: string | undefined,
  local: string,
): RegionConfig {
  const profileName = regionProfile ?? sharedProfile;
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '' && k !== 'TEMPORAL_NAMESPACE') vars[k] = v;
  let profile;
  try {
    profile = toClientOptions(loadClientConfigProfile({ profile: profileName, overrideEnvVars: vars }));
  } catch (err) {
    throw new ConfigError(
      `Temporal connection of region ${name}${profileName ? ` (profile ${profileName})` : ''}: ${(err as Error).message}`,
    );
  }
  const { address: profileAddress, tls, apiKey, metadata } = profile.connectionOptions;
  const resolved = address ?? profileAddress;
  return {
    name,
    // A profile's namespace is the region's only when the profile is the region's own.
    namespace: namespace ?? (regionProfile ? profile.namespace : undefined) ?? defaultNamespace(name),
    address: resolved ?? local,
    connect: {
      ...(tls !== undefined && tls !== null ? { tls } : {}),
      ...(apiKey !== undefined ? { apiKey: apiKey } : {}),
      ...(metadata && Object.keys(metadata).length ? { metadata: metadata as Record<string, string> } : {}),
    },
    external: resolved !== undefined,
  };
}

/** The west dev server's ports in the two-server topology: by default the east ones plus one. */
export function westPort(e: Env): number {
  return e.TEMPORAL_PORT_WEST ?? e.TEMPORAL_PORT + 1;
}
export function westUiPort(e: Env): number {
  return e.TEMPORAL_UI_PORT_WEST ?? (e.TEMPORAL_UI_PORT === 0 ? 0 : e.TEMPORAL_UI_PORT + 1);
}
