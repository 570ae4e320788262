// Registers what the pipeline needs on a Temporal server: namespaces and search attributes.
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../contracts/names';
import type { ConnectOptions } from '../config';

const SA_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

function isGrpcCode(err: unknown, code: number): boolean {
  return (err as { code?: number }).code === code;
}
const ALREADY_EXISTS = 6;

export async function waitForServer(address: string, timeoutMs = 60_000, connect: ConnectOptions = {}): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, ...connect, connectTimeout: '2s' });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${(last as Error)?.message}`);
}

export async function isServerReachable(address: string, connect: ConnectOptions = {}): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, ...connect, connectTimeout: '2s' });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

const DAY_MS = 86_400_000;

/**
 * How long Temporal keeps a closed workflow's history: a week, or RETENTION if shorter (a history is
 * only useful while its record is kept), but never less than the day Temporal allows at least.
 */
export function namespaceRetentionMs(retentionMs: number | null): number {
  return Math.max(DAY_MS, Math.min(7 * DAY_MS, retentionMs ?? Infinity));
}

/**
 * Idempotent: registers the namespace (if missing) and the search attributes on it. With a
 * retention, an existing namespace that keeps closed workflows longer is lowered to it.
 */
export async function setupNamespace(connection: Connection, namespace: string, retentionMs = namespaceRetentionMs(null)): Promise<void> {
  let created = false;
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(retentionMs) });
    created = true;
  } catch (err) {
    if (!isGrpcCode(err, ALREADY_EXISTS)) throw err;
  }
  // A new namespace takes a moment to become usable.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (!created) {
    const { config } = await connection.workflowService.describeNamespace({ namespace });
    const keptMs = Number(config?.workflowExecutionRetentionTtl?.seconds ?? 0) * 1000;
    if (keptMs > retentionMs) {
      await connection.workflowService.updateNamespace({
        namespace,
        config: { workflowExecutionRetentionTtl: msToTs(retentionMs) },
      });
    }
  }
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    if (!existing.customAttributes?.[name]) missing[name] = SA_TYPE[type];
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    if (!isGrpcCode(err, ALREADY_EXISTS)) throw err;
  }
}
