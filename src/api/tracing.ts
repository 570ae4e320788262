// The API entry point's first import: starts tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set)
// before pg and Fastify are required, as service record-pipeline-api.
import { startTracing } from '../telemetry/tracing';

startTracing('record-pipeline-api');
