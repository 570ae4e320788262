// The control entry point's first import: starts tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set)
// before pg is required, as service record-pipeline-control.
import { startTracing } from '../telemetry/tracing';

startTracing('record-pipeline-control');
