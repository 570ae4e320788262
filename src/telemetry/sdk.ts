// The OpenTelemetry Node SDK of one process: an OTLP exporter (http/protobuf, or http/json), one
// batch span processor shared with the workflow worker's span sink, and the pg and Fastify
// instrumentations. Loaded by tracing.ts only when tracing is on.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { FastifyOtelInstrumentation } from '@fastify/otel';

export interface TracingSdk {
  serviceName: string;
  /** Where every span of this process ends, including the workflow isolate's (through the sink). */
  processor: SpanProcessor;
  resource: Resource;
  shutdown(): Promise<void>;
}

/** Probes and scrapes: polled all the time, they would bury the records' traces. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export function startSdk(serviceName: string, env: NodeJS.ProcessEnv): TracingSdk {
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf';
  // The exporters read the standard OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout).
  const exporter = protocol === 'http/json' ? new JsonExporter() : new ProtobufExporter();
  const processor = new BatchSpanProcessor(exporter); // OTEL_BSP_* variables apply
  // The same resource for the SDK's spans and the workflow sink's: OTEL_RESOURCE_ATTRIBUTES count.
  const resource = new Resource({ 'service.name': serviceName }).merge(envDetectorSync.detect());
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [processor],
    instrumentations: [
      // Only queries inside a traced operation: the relay's and the gate's polling stay untraced.
      new PgInstrumentation({ requireParentSpan: true }),
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: (route) => UNTRACED_PATHS.has(route.url.split('?')[0]),
      }),
    ],
  });
  sdk.start();
  return { serviceName, processor, resource, shutdown: () => sdk.shutdown() };
}
