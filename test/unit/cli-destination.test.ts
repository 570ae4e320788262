// `pipeline destination set|show` parsed by the real program against a scripted local HTTP server
// (the real API is driven by test/integration/destinations.test.ts): the request each form sends,
// what is refused before any request, and the output, which never holds the secret.
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/main';
import { destinationBody } from '../../src/cli/commands/destination';
import { CliError } from '../../src/cli/errors';
import { recordingServer, type Answer, type RecordingServer } from '../helpers/recording-server';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const HOOK = 'https://hooks.example.com/pipeline';

let server: RecordingServer;
let api: string;
let seen: RecordingServer['seen'];
let answer: Answer = [200, {}];

beforeAll(async () => {
  server = await recordingServer(() => answer);
  api = server.url;
  seen = server.seen;
});
afterAll(() => server.close());
beforeEach(() => {
  seen.length = 0;
  answer = [200, {}];
});

/** Runs the CLI; what it printed to stdout, or what it threw. */
async function run(...args: string[]): Promise<{ out: string; error?: unknown }> {
  let out = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  const writeErr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await buildProgram({ PIPELINE_URL: api, PIPELINE_TOKEN: 'admin-token' }).parseAsync(['node', 'pipeline', ...args]);
    return { out };
  } catch (error) {
    return { out, error };
  } finally {
    write.mockRestore();
    writeErr.mockRestore();
  }
}

describe('pipeline destination set', () => {
  it('puts a webhook, with the token, and prints it without the secret', async () => {
    answer = [200, { sourceId: 'orders', type: 'webhook', url: HOOK, secretSet: true }];
    const { out, error } = await run('destination', 'set', 'orders', '--webhook', HOOK, '--secret', SECRET);
    expect(error).toBeUndefined();
    expect(seen).toEqual([
      {
        method: 'PUT',
        url: '/v1/admin/sources/orders/destination',
        auth: 'Bearer admin-token',
        body: JSON.stringify({ type: 'webhook', url: HOOK, secret: SECRET }),
      },
    ]);
    expect(out).toMatch(/url\s+https:\/\/hooks\.example\.com\/pipeline/);
    expect(out).toMatch(/secret\s+set \(never shown\)/);
    expect(out).not.toContain(SECRET);
  });

  it('puts the table; --json prints the answer as is', async () => {
    answer = [200, { sourceId: 'orders', type: 'table' }];
    const { out } = await run('destination', 'set', 'orders', '--table', '--json');
    expect(seen.map((s) => s.body)).toEqual(['{"type":"table"}']);
    expect(JSON.parse(out)).toEqual({ sourceId: 'orders', type: 'table' });
  });

  it('sends nothing for an incomplete or contradictory set, or a bad source id', async () => {
    expect((await run('destination', 'set', 'orders', '--webhook', HOOK)).error).toBeInstanceOf(CliError);
    expect((await run('destination', 'set', 'orders')).error).toBeInstanceOf(CliError);
    expect((await run('destination', 'set', 'orders', '--table', '--webhook', HOOK)).error).toBeInstanceOf(CommanderError);
    expect((await run('destination', 'set', 'bad id', '--table')).error).toBeInstanceOf(CommanderError);
    // --url is the API's (for every command): without --webhook nothing is sent, to either.
    expect((await run('destination', 'set', 'orders', '--url', HOOK, '--secret', SECRET)).error).toMatchObject({
      message: expect.stringMatching(/--url is the API/),
    });
    expect(seen).toEqual([]);
  });

  it("reports the API's refusal in one line", async () => {
    answer = [400, { error: 'host_not_allowed', message: '127.0.0.1 is a loopback address; ...' }];
    const { error } = await run('destination', 'set', 'orders', '--webhook', 'https://127.0.0.1/', '--secret', SECRET);
    expect(error).toMatchObject({
      status: 400,
      code: 'host_not_allowed',
      message: '400 host_not_allowed: 127.0.0.1 is a loopback address; ...',
    });
  });
});

describe('pipeline destination show', () => {
  it('gets the destination and says when a webhook is disabled', async () => {
    answer = [
      200,
      {
        sourceId: 'orders',
        type: 'webhook',
        url: HOOK,
        secretSet: true,
        disabledAt: '2030-01-01T00:00:00.000Z',
        disabledReason: '410 Gone',
      },
    ];
    const { out } = await run('destination', 'show', 'orders');
    expect(seen.map((s) => [s.method, s.url])).toEqual([['GET', '/v1/admin/sources/orders/destination']]);
    expect(out).toMatch(/state\s+disabled since 2030-01-01T00:00:00.000Z: 410 Gone \(set it again to enable\)/);
  });

  it('shows the table', async () => {
    answer = [200, { sourceId: 'plain', type: 'table' }];
    expect((await run('destination', 'show', 'plain')).out).toMatch(/destination\s+the deliveries table/);
  });
});

describe('destinationBody', () => {
  it('is the table, or a webhook with both its URL and secret', () => {
    expect(destinationBody({ table: true })).toEqual({ type: 'table' });
    expect(destinationBody({ webhook: HOOK, secret: SECRET })).toEqual({ type: 'webhook', url: HOOK, secret: SECRET });
    expect(() => destinationBody({ secret: SECRET })).toThrow(CliError);
    expect(() => destinationBody({ table: true, secret: SECRET })).toThrow(CliError);
  });
});
