// Tracing on or off for this process. Off (no OTLP endpoint set) loads nothing of the
// OpenTelemetry SDK and installs no interceptor; on, sdk.ts starts it before pg is first required.
import type { TracingSdk } from './sdk';

let active: TracingSdk | undefined;

/** On when the standard OTLP endpoint variable is set (and the SDK is not disabled). */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) && env.OTEL_SDK_DISABLED !== 'true';
}

/**
 * Starts the SDK once per process if tracing is wanted; `serviceName` is this process's default
 * (OTEL_SERVICE_NAME wins). Call it before anything requires `pg`, so its instrumentation applies.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): TracingSdk | undefined {
  if (active || !tracingWanted(env)) return active;
  const { startSdk } = require('./sdk') as typeof import('./sdk');
  active = startSdk(env.OTEL_SERVICE_NAME || serviceName, env);
  return active;
}

/** The running SDK, or undefined when tracing is off. */
export function tracing(): TracingSdk | undefined {
  return active;
}

/** Flushes the spans still buffered (at process end); nothing when off. */
export async function stopTracing(): Promise<void> {
  const sdk = active;
  active = undefined;
  await sdk?.shutdown().catch(() => undefined);
}
