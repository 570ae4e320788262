// The worker entry point's first import: starts tracing (when OTEL_EXPORTER_OTLP_ENDPOINT is set)
// before pg is required, named for this process (record-pipeline-worker-<region>-<role>).
import { startTracing } from '../telemetry/tracing';

const [region, role] = process.argv.slice(2);
startTracing(`record-pipeline-worker-${region}-${role}`);
