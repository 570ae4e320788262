// The check of a webhook URL again when it is called: WEBHOOK_ALLOWED_HOSTS may have changed since
// the destination was set, and a public name may resolve to an internal address (an admin's URL
// must not reach what the network behind the worker holds).
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { canonicalHost, checkUrl, internalHost } from './validate';

export type Lookup = (host: string) => Promise<string[]>;

const systemLookup: Lookup = async (host) => (await dns.promises.lookup(host, { all: true })).map((a) => a.address);

/** The error code of a connection refused by connectLookup. */
export const REFUSED_ADDRESS = 'EWEBHOOKADDRESS';

function addressRefusal(host: string, address: string): string | undefined {
  const kind = internalHost(address);
  return kind && `${host} resolves to ${address}, a ${kind} address; the pipeline calls it only when WEBHOOK_ALLOWED_HOSTS lists ${host}`;
}

/**
 * The lookup a webhook's connection uses: the name's addresses checked as they are connected to, so
 * a name that answers a public address to refusedUrl and an internal one to the connection (DNS
 * rebinding) is refused too (an error with code REFUSED_ADDRESS).
 */
export function connectLookup(allowedHosts: readonly string[], lookup: typeof dns.lookup = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, all) => {
      if (err) return callback(err, '', 4);
      const host = canonicalHost(hostname);
      if (!allowedHosts.includes(host)) {
        for (const { address } of all) {
          const refusal = addressRefusal(host, address);
          if (refusal) return callback(Object.assign(new Error(refusal), { code: REFUSED_ADDRESS }), '', 4);
        }
      }
      if (options.all) return callback(null, all);
      if (!all[0]) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 4);
      callback(null, all[0].address, all[0].family);
    });
  };
}

/**
 * Why the URL may not be called now, or undefined. A name that does not resolve is left to the
 * call itself (a network failure, tried again). The connection resolves the name again, through
 * connectLookup.
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
    const refusal = addressRefusal(host, address);
    if (refusal) return refusal;
  }
  return undefined;
}
