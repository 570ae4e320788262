// A region's connection through the SDK's Rust core (the workers' NativeConnection) for a Client:
// about 40% less CPU than grpc-js per call, measured on workflow starts (docs/benchmarks.md). It
// needs the core's runtime in the thread, so only the API's start thread uses it.
import { NativeConnection } from '@temporalio/worker';
import { withTimeout } from '../with-timeout';
import { CONNECT_TIMEOUT_MS, type Connect } from './clients';

/**
 * NativeConnection.connect has no timeout of its own: a server that accepts and never answers
 * would hold every start behind it. Past the timeout the caller fails (the relay starts the records
 * later), and a connection that still comes is closed.
 */
export const nativeConnect: Connect = async (rc) => {
  const pending = NativeConnection.connect({ address: rc.address, ...rc.connect });
  try {
    return await withTimeout(pending, CONNECT_TIMEOUT_MS, `Temporal at ${rc.address} did not answer within ${CONNECT_TIMEOUT_MS} ms`);
  } catch (err) {
    pending.then((c) => c.close()).catch(() => undefined);
    throw err;
  }
};
