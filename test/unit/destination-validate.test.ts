// What a requested destination must be before it is stored: the URL's scheme, credentials,
// fragment, length and host (loopback and private ones only when allow-listed), and the secret.
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config';
import { internalHost, MAX_URL_LENGTH, parseAllowedHosts, validateDestination } from '../../src/destinations/validate';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const webhook = (url: string, secret = SECRET) => ({ type: 'webhook' as const, url, secret });
/** The refusal's code, or 'ok'. */
const code = (url: string, allowed: string[] = [], secret = SECRET) => {
  const r = validateDestination(webhook(url, secret), allowed);
  return r.ok ? 'ok' : r.code;
};

describe('validateDestination', () => {
  it('takes the table, and an https webhook as given', () => {
    expect(validateDestination({ type: 'table' }, [])).toEqual({ ok: true, destination: { type: 'table' } });
    const url = 'https://hooks.example.com/pipeline?source=a';
    expect(validateDestination(webhook(url), [])).toEqual({ ok: true, destination: { type: 'webhook', url, secret: SECRET } });
  });

  it('refuses what does not parse as a URL, or has spaces or control characters in it', () => {
    for (const url of [
      '',
      'hooks.example.com/x',
      '/relative',
      'https://',
      'https://exa mple.com/',
      'https://example.com/\tx',
      ' https://example.com/',
    ])
      expect({ url, code: code(url) }).toEqual({ url, code: 'invalid_url' });
  });

  it('refuses schemes other than https, and http to a host that is not listed', () => {
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://example.com/', 'data:text/plain,x'])
      expect({ url, code: code(url) }).toEqual({ url, code: 'url_scheme' });
    expect(code('http://example.com/hook')).toBe('url_scheme');
    expect(code('http://example.com/hook', ['other.example.com'])).toBe('url_scheme');
    expect(code('http://example.com/hook', ['EXAMPLE.com'])).toBe('ok');
    expect(code('http://Example.COM./hook', parseAllowedHosts('example.com'))).toBe('ok');
  });

  it('refuses user names and passwords in the URL, and fragments, even on an allowed host', () => {
    for (const url of ['https://user:pw@example.com/', 'https://user@example.com/', 'https://:pw@example.com/'])
      expect(code(url, ['example.com'])).toBe('url_credentials');
    for (const url of ['https://example.com/#x', 'https://example.com/hook#']) expect(code(url, ['example.com'])).toBe('url_fragment');
  });

  it(`refuses URLs over ${MAX_URL_LENGTH} characters`, () => {
    const base = 'https://example.com/';
    expect(code(base + 'a'.repeat(MAX_URL_LENGTH - base.length))).toBe('ok');
    expect(code(base + 'a'.repeat(MAX_URL_LENGTH - base.length + 1))).toBe('url_too_long');
  });

  it('refuses loopback, private and link-local hosts, however they are written, unless listed', () => {
    const internal = [
      'https://localhost/',
      'https://LOCALHOST./',
      'https://api.localhost/',
      'https://127.0.0.1/',
      'https://127.255.1.2/',
      'https://2130706433/', // 127.0.0.1 as one number
      'https://0x7f.1/',
      'https://0.0.0.0/',
      'https://10.1.2.3/',
      'https://172.16.0.1/',
      'https://172.31.255.255/',
      'https://192.168.1.1:8443/',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/',
      'https://[0:0:0:0:0:0:0:1]/',
      'https://[::]/',
      'https://[fc00::1]/',
      'https://[fd12:3456::1]/',
      'https://[fe80::1]/',
      'https://[febf::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[::ffff:10.0.0.1]/',
      'https://[::ffff:a9fe:a9fe]/',
      'https://[::127.0.0.1]/',
    ];
    for (const url of internal) expect({ url, code: code(url) }).toEqual({ url, code: 'host_not_allowed' });
    // Plain http to an internal host: the allow-list is what is missing, not https.
    expect(code('http://localhost:8080/hook')).toBe('host_not_allowed');
  });

  it('leaves public hosts and addresses alone', () => {
    for (const url of [
      'https://172.15.0.1/',
      'https://172.32.0.1/',
      'https://192.169.0.1/',
      'https://11.0.0.1/',
      'https://8.8.8.8/',
      'https://[2001:db8::1]/',
      'https://[fec0::1]/',
      'https://[::ffff:8.8.8.8]/',
      'https://localhost.example.com/',
      'https://mylocalhost/',
    ])
      expect({ url, code: code(url) }).toEqual({ url, code: 'ok' });
  });

  it('calls a listed internal host, over http too, matching however either is written', () => {
    const allowed = parseAllowedHosts(' LocalHost , 127.0.0.1,[::1], 0:0::1 ,,10.0.0.7 ');
    expect(allowed).toEqual(['localhost', '127.0.0.1', '::1', '10.0.0.7']);
    for (const url of [
      'http://localhost:8080/hook',
      'https://localhost./',
      'http://127.1:9000/',
      'http://[::1]:9000/',
      'https://10.0.0.7/',
    ])
      expect({ url, code: code(url, allowed) }).toEqual({ url, code: 'ok' });
    // Only the host listed: the rest of its range is still refused.
    expect(code('http://127.0.0.2/', allowed)).toBe('host_not_allowed');
    expect(code('https://10.0.0.8/', allowed)).toBe('host_not_allowed');
    expect(code('https://api.localhost/', allowed)).toBe('host_not_allowed');
    expect(parseAllowedHosts('')).toEqual([]);
  });

  it('takes a secret of whsec_ and the base64 of 24 to 64 bytes, and nothing else', () => {
    const url = 'https://example.com/';
    for (const n of [24, 32, 64]) expect(code(url, [], `whsec_${randomBytes(n).toString('base64')}`)).toBe('ok');
    const bad = [
      '',
      'whsec_',
      randomBytes(32).toString('base64'),
      `WHSEC_${randomBytes(32).toString('base64')}`,
      `whsec_${randomBytes(23).toString('base64')}`,
      `whsec_${randomBytes(65).toString('base64')}`,
      `whsec_${'-_'.repeat(22)}`,
      `whsec_${randomBytes(32).toString('base64').replace(/=+$/, '')}`,
      `whsec_${randomBytes(32).toString('base64')} `,
      `whsec_${randomBytes(32).toString('hex')}!`,
    ];
    for (const secret of bad) {
      const r = validateDestination(webhook(url, secret), []);
      expect(r).toMatchObject({ ok: false, code: 'invalid_secret' });
      // The message says what a secret must be, and never repeats the one given.
      if (!r.ok && secret.length > 6) expect(r.message).not.toContain(secret.slice(6, 20));
    }
  });

  it('checks the URL before the secret', () => {
    expect(code('ftp://example.com/', [], 'nope')).toBe('url_scheme');
  });
});

describe('internalHost', () => {
  it('names why a host is internal', () => {
    expect(internalHost('localhost')).toBe('loopback');
    expect(internalHost('10.0.0.1')).toBe('private');
    expect(internalHost('[fe80::1]')).toBe('link-local');
    expect(internalHost('example.com')).toBeUndefined();
  });
});

describe('WEBHOOK_ALLOWED_HOSTS', () => {
  it('is empty by default, and refused at boot when it holds URLs or paths rather than hosts', () => {
    expect(loadConfig({}).WEBHOOK_ALLOWED_HOSTS).toBe('');
    expect(loadConfig({ WEBHOOK_ALLOWED_HOSTS: 'localhost, 10.0.0.7,[::1]' }).WEBHOOK_ALLOWED_HOSTS).toBe('localhost, 10.0.0.7,[::1]');
    for (const bad of ['http://localhost', 'localhost/hook', 'a;b'])
      expect(() => loadConfig({ WEBHOOK_ALLOWED_HOSTS: bad })).toThrow(ConfigError);
  });
});
