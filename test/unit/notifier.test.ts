// The gate signal from outside workflow code: a record not started yet is normal ('absent'); any
// other failure throws, so that the stage activity that sends it is retried and sends it again
// (it answered 'failed' before, and the next record waited for the sweeper or the reconciler).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { gateNotifier } from '../../src/temporal/notifier';

function client(signal: () => Promise<void>, sent: string[] = []): Client {
  return {
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
    workflow: {
      getHandle: (id: string) => ({
        signal: async () => {
          await signal();
          sent.push(id);
        },
      }),
    },
  } as unknown as Client;
}

describe('the gate notifier', () => {
  it('sends the signal to the record next in line', async () => {
    const sent: string[] = [];
    expect(await gateNotifier(client(async () => undefined, sent))('s', 2, { watermarks: { inbound: 1 } })).toBe('sent');
    expect(sent).toEqual(['record:s:2']);
  });

  it('answers absent for a record whose workflow does not exist yet (it reads Postgres when it starts)', async () => {
    const notFound = async () => {
      throw new WorkflowNotFoundError('not found', 'record:s:2', undefined);
    };
    expect(await gateNotifier(client(notFound))('s', 2, { watermarks: {} })).toBe('absent');
  });

  it('throws on any other failure, after telling the caller, so that the activity is retried', async () => {
    const seen: string[] = [];
    const down = async () => {
      throw new Error('14 UNAVAILABLE: connection refused');
    };
    await expect(gateNotifier(client(down), (err) => seen.push(err.message))('s', 2, { watermarks: {} })).rejects.toThrow(
      /gate signal to record:s:2 failed: 14 UNAVAILABLE/,
    );
    expect(seen).toEqual(['14 UNAVAILABLE: connection refused']);
  });
});
