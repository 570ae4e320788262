// Checks a destination an admin asks for, before it is stored: pure, no I/O (a host name is judged
// by its text; what it resolves to is the sender's business). Every refusal has its own code and a
// message that says what to do; none of them repeats the secret.
import type { Destination } from './destination';

/** What PUT /v1/admin/sources/:sourceId/destination takes. */
export type DestinationRequest = { type: 'table' } | { type: 'webhook'; url: string; secret: string };

export type DestinationRefusal =
  'invalid_url' | 'url_too_long' | 'url_scheme' | 'url_credentials' | 'url_fragment' | 'host_not_allowed' | 'invalid_secret';

export type DestinationCheck = { ok: true; destination: Destination } | { ok: false; code: DestinationRefusal; message: string };

export const MAX_URL_LENGTH = 2048;
/** Standard Webhooks: the signing key is 24 to 64 random bytes, base64 after `whsec_`. */
export const SECRET_PREFIX = 'whsec_';
export const SECRET_MIN_BYTES = 24;
export const SECRET_MAX_BYTES = 64;

const ALLOW_LIST = 'WEBHOOK_ALLOWED_HOSTS';

/**
 * WEBHOOK_ALLOWED_HOSTS as the hosts it lists: comma-separated names or addresses, in canonical
 * form (lower case, no trailing dot, IPv6 without brackets, IPv4 as dotted quads), so that they
 * compare with a URL's host however either was written.
 */
export function parseAllowedHosts(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((h) => canonicalHost(h.trim()))
        .filter((h) => h !== ''),
    ),
  ];
}

export function canonicalHost(host: string): string {
  if (host === '') return '';
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  try {
    // The URL parser writes a host as a request to it would: `127.1` is 127.0.0.1, `::0:1` is ::1.
    return stripHost(new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname);
  } catch {
    return stripHost(bare.toLowerCase());
  }
}

/** A URL's hostname without IPv6 brackets or the trailing dot of a fully qualified name. */
function stripHost(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.+$/, '');
}

const refuse = (code: DestinationRefusal, message: string): DestinationCheck => ({ ok: false, code, message });

export function validateDestination(request: DestinationRequest, allowedHosts: readonly string[]): DestinationCheck {
  if (request.type === 'table') return { ok: true, destination: { type: 'table' } };
  const url = checkUrl(request.url, allowedHosts);
  if (url) return url;
  const secret = checkSecret(request.secret);
  if (secret) return secret;
  return { ok: true, destination: { type: 'webhook', url: request.url, secret: request.secret } };
}

/** A webhook URL's refusal (scheme, credentials, fragment, an internal host not listed), or undefined when it may be called. */
export function checkUrl(raw: string, allowedHosts: readonly string[]): DestinationCheck | undefined {
  if (raw.length > MAX_URL_LENGTH) {
    return refuse('url_too_long', `the URL is ${raw.length} characters; at most ${MAX_URL_LENGTH} are allowed`);
  }
  // The URL parser would drop tabs and line breaks and trim spaces: refuse them rather than store
  // a URL that is not the one called.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) {
    return refuse('invalid_url', 'the URL contains spaces or control characters; percent-encode them');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('invalid_url', 'the URL cannot be parsed; give an absolute URL such as https://hooks.example.com/pipeline');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return refuse(
      'url_scheme',
      `the URL's scheme is ${url.protocol.slice(0, -1)}; webhooks are called over https (or http to a host listed in ${ALLOW_LIST})`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    return refuse(
      'url_credentials',
      'the URL contains a user name or password; remove them: each call is signed with the secret, which is how the endpoint authenticates it',
    );
  }
  if (url.hash !== '' || raw.includes('#')) {
    return refuse('url_fragment', 'the URL has a #fragment, which is never sent to the endpoint; remove it');
  }
  const host = stripHost(url.hostname);
  const listed = allowedHosts.some((a) => canonicalHost(a.trim()) === host);
  const internal = internalHost(host);
  if (internal && !listed) {
    return refuse('host_not_allowed', `${host} is a ${internal} address; the pipeline calls it only when ${ALLOW_LIST} lists it`);
  }
  if (url.protocol === 'http:' && !listed) {
    return refuse('url_scheme', `plain http is allowed only to a host listed in ${ALLOW_LIST}; use https, or add ${host} to it`);
  }
  return undefined;
}

function checkSecret(secret: string): DestinationCheck | undefined {
  const help = `a secret is ${SECRET_PREFIX} followed by the base64 of ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} random bytes, e.g. ${SECRET_PREFIX}$(openssl rand -base64 32)`;
  if (!secret.startsWith(SECRET_PREFIX)) return refuse('invalid_secret', `the secret does not start with ${SECRET_PREFIX}; ${help}`);
  const encoded = secret.slice(SECRET_PREFIX.length);
  // Standard base64 with its padding, and only the canonical form of it (what decodes is what was meant).
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) {
    return refuse('invalid_secret', `the part after ${SECRET_PREFIX} is not base64; ${help}`);
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64') !== encoded)
    return refuse('invalid_secret', `the part after ${SECRET_PREFIX} is not canonical base64; ${help}`);
  if (key.length < SECRET_MIN_BYTES || key.length > SECRET_MAX_BYTES) {
    return refuse('invalid_secret', `the secret's key is ${key.length} bytes; ${help}`);
  }
  return undefined;
}

/** Why a host is internal (`loopback`, `private`, ...), or undefined for a public one. */
export function internalHost(host: string): string | undefined {
  const h = stripHost(host.toLowerCase());
  if (h === 'localhost' || h.endsWith('.localhost')) return 'loopback';
  const v4 = ipv4(h);
  if (v4) return internalIpv4(v4);
  const v6 = ipv6(h);
  if (v6) return internalIpv6(v6);
  return undefined;
}

function ipv4(h: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function internalIpv4([a, b]: number[]): string | undefined {
  if (a === 127) return 'loopback';
  if (a === 0) return 'unspecified';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'link-local';
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (the URL parser's form, or one with an IPv4 tail). */
function ipv6(h: string): number[] | undefined {
  if (!h.includes(':') || !/^[0-9a-f:.]+$/.test(h)) return undefined;
  let text = h;
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = ipv4(tail[1]);
    if (!v4) return undefined;
    text = `${text.slice(0, tail.index + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
}

function internalIpv6(g: number[]): string | undefined {
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(7) && g[7] === 1) return 'loopback';
  if (zeros(8)) return 'unspecified';
  const v4 = [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff];
  // IPv4-mapped (::ffff:a.b.c.d) and the old IPv4-compatible form (::a.b.c.d) reach the IPv4 address.
  if (zeros(5) && (g[5] === 0xffff || g[5] === 0)) return internalIpv4(v4);
  if ((g[0] & 0xfe00) === 0xfc00) return 'private';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  return undefined;
}
