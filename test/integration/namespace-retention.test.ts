// The namespaces' retention of closed workflows, against a real dev server: a week by default,
// RETENTION when shorter (a day at least, Temporal's floor), and an existing namespace that keeps
// histories longer than RETENTION is lowered to it, never raised.
import { Connection } from '@temporalio/client';
import { namespaceRetentionMs, setupNamespace } from '../../src/temporal/setup';
import { startDevServer } from '../helpers/temporal';

const DAY = 86_400_000;
let server: Awaited<ReturnType<typeof startDevServer>>;
let connection: Connection;

beforeAll(async () => {
  server = await startDevServer([]);
  connection = await Connection.connect({ address: server.address });
}, 60_000);
afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

const kept = async (namespace: string) =>
  Number((await connection.workflowService.describeNamespace({ namespace })).config?.workflowExecutionRetentionTtl?.seconds) * 1000;

describe("the namespaces' retention", () => {
  it('is a week, or RETENTION when shorter, and a day at least', () => {
    expect(namespaceRetentionMs(null)).toBe(7 * DAY);
    expect(namespaceRetentionMs(30 * DAY)).toBe(7 * DAY);
    expect(namespaceRetentionMs(3 * DAY)).toBe(3 * DAY);
    expect(namespaceRetentionMs(DAY / 2)).toBe(DAY);
  });

  it('is set on a new namespace and lowered, never raised, on an existing one', async () => {
    await setupNamespace(connection, 'retention-new', namespaceRetentionMs(2 * DAY));
    expect(await kept('retention-new')).toBe(2 * DAY);
    await setupNamespace(connection, 'retention-old');
    expect(await kept('retention-old')).toBe(7 * DAY);
    await setupNamespace(connection, 'retention-old', namespaceRetentionMs(3 * DAY));
    expect(await kept('retention-old')).toBe(3 * DAY);
    await setupNamespace(connection, 'retention-old', namespaceRetentionMs(30 * DAY));
    expect(await kept('retention-old')).toBe(3 * DAY);
  });
});
