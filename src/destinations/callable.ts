// The check of a webhook URL again when it is called: WEBHOOK_ALLOWED_HOSTS may have changed since
// the destination was set, and a public name may resolve to an internal address (an admin's URL
// must not reach what the network behind the worker holds).
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { canonicalHost, checkUrl, internalHost } from './validate';

/** The error code of a connection refused by connectLookup. */
export const REFUSED_ADDRESS = 'EWEBHOOKADDRESS';

function addressRefusal(host: string, address: string): string | undefined {
  const kind = internalHost(address);
  return kind && `${host} resolves to ${address}, a ${kind} address; the pipeline calls it only when WEBHOOK_ALLOWED_HOSTS lists ${host}`;
}

/**
 * The lookup a webhook's connection uses: the name's addresses checked as they are connected to, so
 * a public name that resolves to an internal address is refused (an error with code REFUSED_ADDRESS)
 * at the moment it would be connected to, whatever it answered before (DNS rebinding).
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
 * Why the URL may not be called now (WEBHOOK_ALLOWED_HOSTS may have changed since the destination
 * was set), or undefined. What its name resolves to is checked by the connection, at every
 * connect (connectLookup): a check here too would cost a second lookup and could not stop a
 * rebinding name anyway.
 */
export function refusedUrl(url: string, allowedHosts: readonly string[]): string | undefined {
  const refusal = checkUrl(url, allowedHosts);
  return refusal && !refusal.ok ? refusal.message : undefined;
}
