import type { LookupAddress, lookup as dnsLookup } from 'node:dns';
import { connectLookup, REFUSED_ADDRESS, refusedUrl } from '../../src/destinations/callable';
import { sendWebhook } from '../../src/destinations/webhook';
import { recordingServer, type RecordingServer } from '../helpers/recording-server';

/** dns.lookup's callback form over a fixed table; counts the lookups. */
const fakeDns = (answers: Record<string, string[]>) => {
  const calls: string[] = [];
  const lookup = ((host: string, _options: unknown, callback: (err: Error | null, all: LookupAddress[]) => void) => {
    calls.push(host);
    const a = answers[host];
    if (!a) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
    callback(
      null,
      a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  }) as unknown as typeof dnsLookup;
  return { lookup, calls };
};

/** What connectLookup answers a connection to `host`: the refusal, or the address it connects to. */
const connectTo = (host: string, answers: Record<string, string[]>, allowed: string[] = []) =>
  new Promise<{ refused?: string; code?: string; address?: string }>((resolve) =>
    connectLookup(allowed, fakeDns(answers).lookup)(host, {}, (err, address) =>
      resolve(err ? { refused: err.message, code: err.code } : { address: address as string }),
    ),
  );

describe('a webhook URL checked again when it is called', () => {
  it('refuses what the allow-list no longer lets through (it changed since the destination was set)', () => {
    expect(refusedUrl('http://127.0.0.1:9/x', [])).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(refusedUrl('http://127.0.0.1:9/x', ['127.0.0.1'])).toBeUndefined();
    expect(refusedUrl('http://hooks.example.com/x', [])).toMatch(/plain http/);
    expect(refusedUrl('https://hooks.example.com/x', [])).toBeUndefined();
  });
});

describe("a webhook connection's lookup", () => {
  it('lets a public name with public addresses through', async () => {
    expect(await connectTo('hooks.example.com', { 'hooks.example.com': ['93.184.216.34'] })).toEqual({ address: '93.184.216.34' });
  });

  it('refuses a public name that resolves to an internal address unless the name is listed', async () => {
    const answers = { 'sneaky.example.com': ['93.184.216.34', '10.0.0.5'] };
    expect(await connectTo('sneaky.example.com', answers)).toEqual({
      refused:
        'sneaky.example.com resolves to 10.0.0.5, a private address; the pipeline calls it only when WEBHOOK_ALLOWED_HOSTS lists sneaky.example.com',
      code: REFUSED_ADDRESS,
    });
    expect(await connectTo('sneaky.example.com', answers, ['sneaky.example.com'])).toEqual({ address: '93.184.216.34' });
    expect((await connectTo('meta.example.com', { 'meta.example.com': ['169.254.169.254'] })).refused).toMatch(/link-local/);
    expect((await connectTo('six.example.com', { 'six.example.com': ['::1'] })).refused).toMatch(/loopback/);
  });
});

describe("a webhook's connection (DNS rebinding: the name answers differently when connected to)", () => {
  let receiver: RecordingServer;
  beforeAll(async () => {
    receiver = await recordingServer(() => [204, '']);
  });
  afterAll(() => receiver.close());

  const call = (host: string) => ({
    url: `http://${host}:${new URL(receiver.url).port}/hook`,
    secret: `whsec_${Buffer.alloc(32, 3).toString('base64')}`,
    sourceId: 's',
    seq: 1,
    recordId: 'r1',
    epoch: 1,
    output: {},
  });

  it('refuses to connect when the name now resolves to an internal address, and sends nothing', async () => {
    const { lookup, calls } = fakeDns({ 'rebind.example.com': ['127.0.0.1'] });
    const answer = await sendWebhook(call('rebind.example.com'), 2000, { lookup: connectLookup([], lookup), refusedCode: REFUSED_ADDRESS });
    expect(answer).toEqual({
      kind: 'refused',
      status: null,
      error:
        'rebind.example.com resolves to 127.0.0.1, a loopback address; the pipeline calls it only when WEBHOOK_ALLOWED_HOSTS lists rebind.example.com',
    });
    expect(calls).toEqual(['rebind.example.com']);
    expect(receiver.seen).toHaveLength(0);
  });

  it('connects to the address it checked when the name is listed', async () => {
    const { lookup } = fakeDns({ 'listed.example.com': ['127.0.0.1'] });
    const answer = await sendWebhook(call('listed.example.com'), 2000, {
      lookup: connectLookup(['listed.example.com'], lookup),
      refusedCode: REFUSED_ADDRESS,
    });
    expect(answer).toEqual({ kind: 'delivered', status: 204 });
    expect(receiver.seen.map((r) => r.url)).toEqual(['/hook']);
  });

  it('passes a failed lookup on as a network failure (tried again)', async () => {
    const { lookup } = fakeDns({});
    const answer = await sendWebhook(call('gone.example.com'), 2000, { lookup: connectLookup([], lookup), refusedCode: REFUSED_ADDRESS });
    expect(answer).toMatchObject({ kind: 'retry', status: null, error: expect.stringMatching(/^ENOTFOUND: /) });
  });
});
