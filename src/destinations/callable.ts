// The check of a webhook URL again when it is called: WEBHOOK_ALLOWED_HOSTS may have changed since
// the destination was set, and a public name may resolve to an internal address (an admin's URL
// must not reach what the network behind the worker holds).
import { lookup as dnsLookup } from 'node:dns/promises';
import { canonicalHost, checkUrl, internalHost } from './validate';

export type Lookup = (host: string) => Promise<string[]>;

const systemLookup: Lookup = async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address);

/**
 * Why the URL may not be called now, or undefined. A name that does not resolve is left to the
 * call itself (a network failure, tried again). The request resolves the name again: a name that
 * changes its answer in between (DNS rebinding) is not caught here.
 */
export async function refusedUrl(url: string, allowedHosts: readonly string[], lookup: Lookup = systemLookup): Promise<string | undefined> {
  const refusal = checkUrl(url, allowedHosts);
  if (refusal && !refusal.ok) return refusal.message;
  const host = canonicalHost(new URL(url).hostname);
  if (allowedHosts.includes(host) || internalHost(host) !== undefined) return undefined;
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch {
    return undefined;
  }
  for (const address of addresses) {
    const kind = internalHost(address);
    if (kind)
      return `${host} resolves to ${address}, a ${kind} address; the pipeline calls it only when WEBHOOK_ALLOWED_HOSTS lists ${host}`;
  }
  return undefined;
}
