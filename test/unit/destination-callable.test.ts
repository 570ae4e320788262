import { refusedUrl, type Lookup } from '../../src/destinations/callable';

const dns =
  (answers: Record<string, string[]>): Lookup =>
  async (host) => {
    const a = answers[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a;
  };

describe('a webhook URL checked again when it is called', () => {
  it('lets a public name with public addresses through', async () => {
    expect(await refusedUrl('https://hooks.example.com/x', [], dns({ 'hooks.example.com': ['93.184.216.34'] }))).toBeUndefined();
  });

  it('refuses a public name that resolves to an internal address unless the name is listed', async () => {
    const lookup = dns({ 'sneaky.example.com': ['93.184.216.34', '10.0.0.5'] });
    expect(await refusedUrl('https://sneaky.example.com/x', [], lookup)).toBe(
      'sneaky.example.com resolves to 10.0.0.5, a private address; the pipeline calls it only when WEBHOOK_ALLOWED_HOSTS lists sneaky.example.com',
    );
    expect(await refusedUrl('https://sneaky.example.com/x', ['sneaky.example.com'], lookup)).toBeUndefined();
    expect(await refusedUrl('https://meta.example.com/x', [], dns({ 'meta.example.com': ['169.254.169.254'] }))).toMatch(/link-local/);
    expect(await refusedUrl('https://six.example.com/x', [], dns({ 'six.example.com': ['::1'] }))).toMatch(/loopback/);
  });

  it('refuses what the allow-list no longer lets through (it changed since the destination was set)', async () => {
    expect(await refusedUrl('http://127.0.0.1:9/x', [], dns({}))).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(await refusedUrl('http://127.0.0.1:9/x', ['127.0.0.1'], dns({}))).toBeUndefined();
    expect(await refusedUrl('http://hooks.example.com/x', [], dns({ 'hooks.example.com': ['93.184.216.34'] }))).toMatch(/plain http/);
  });

  it('leaves a name that does not resolve to the call (a network failure, tried again)', async () => {
    expect(await refusedUrl('https://nowhere.example.com/x', [], dns({}))).toBeUndefined();
  });
});
