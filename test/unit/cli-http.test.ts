// The CLI's HTTP client against a real local HTTP server: Bearer token, JSON, one-line errors.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from '../../src/cli/http';
import { ApiRequestError, CliError } from '../../src/cli/errors';
import { recordingServer, type RecordingServer } from '../helpers/recording-server';

describe('CLI HTTP client', () => {
  let server: RecordingServer;
  let seen: RecordingServer['seen'];
  let url: string;

  beforeAll(async () => {
    server = await recordingServer(({ url }) => {
      if (url === '/ok') return [200, { a: 1 }];
      if (url === '/conflict') return [409, { error: 'id_conflict', message: 'ids taken: r1', details: { ids: ['r1'] } }];
      return [502, '<html>bad gateway</html>'];
    });
    seen = server.seen;
    url = `${server.url}/`;
  });
  afterAll(() => server.close());

  it('sends the token as a Bearer token and JSON bodies', async () => {
    const client = new ApiClient({ url, token: 's3cret' });
    expect(await client.post('/ok', { x: 1 })).toEqual({ a: 1 });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/ok', auth: 'Bearer s3cret', body: '{"x":1}' });
    await new ApiClient({ url }).get('/ok');
    expect(seen.at(-1)?.auth).toBeUndefined();
  });

  it('turns an error answer into its status, code and message', async () => {
    const err = await new ApiClient({ url }).post('/conflict', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiRequestError);
    expect(err).toMatchObject({
      status: 409,
      code: 'id_conflict',
      apiMessage: 'ids taken: r1',
      details: { ids: ['r1'] },
      message: '409 id_conflict: ids taken: r1',
    });
    await expect(new ApiClient({ url }).get('/other')).rejects.toMatchObject({
      status: 502,
      code: 'http_error',
      apiMessage: '<html>bad gateway</html>',
    });
  });

  it('says which URL it cannot reach', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = (await new ApiClient({ url: `http://127.0.0.1:${port}` }).get('/x').catch((e: unknown) => e)) as CliError;
    expect(err).toBeInstanceOf(CliError);
    expect(err.message).toBe(`cannot reach the API at http://127.0.0.1:${port} (ECONNREFUSED); is it running? set PIPELINE_URL or --url`);
  });
});
