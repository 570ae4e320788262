// An entry point's graceful shutdown: on SIGINT, SIGTERM or the loss of its parent's IPC channel (the
// supervisor that forked it is gone), close once, stop tracing, and exit: 0, or 1 when closing failed.
import { stopTracing } from './telemetry/tracing';

export function exitOnSignals(close: () => Promise<void>): void {
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    close()
      .then(stopTracing)
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('disconnect', shutdown);
}
