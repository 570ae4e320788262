// Who may do what: the admin token may do everything; a source key reads and writes its own
// source only. Checked in onRequest, before the body is even read.
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { findLiveKey, touchKey, type KeyRow } from '../db/keys';
import { ApiError } from './errors';
import { FailureLimiter } from './auth-failures';
import { bearerToken, parseSourceKey, sameSecret, secretHash } from './credentials';

export type Principal = { role: 'admin' } | { role: 'source'; sourceId: string; keyId: string } | { role: 'public' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** Drops a key from this process's lookup cache (after a revoke), so it is refused at once. */
    forgetKey(keyId: string): void;
  }
}

// A key lookup is reused this long: bursts of requests with one key cost one query. Revoking
// through this process forgets the key at once; another API process sees it within this time.
export const KEY_CACHE_MS = 1000;

export interface AuthOptions {
  mode: 'on' | 'off';
  adminToken?: string;
  /** last_used_at is written at most this often per key, not on every request. */
  touchEveryMs?: number;
  /** Failed authentications per client address per minute; beyond it they are answered 429. */
  failuresPerMinute?: number;
}

// Routes anyone may call: probes, the metrics scrape and the API documentation.
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
export const isPublicRoute = (route: string | undefined): boolean =>
  route !== undefined && (PUBLIC_ROUTES.has(route) || route === '/docs' || route.startsWith('/docs/'));

const SOURCE_ROUTE_PREFIX = '/v1/sources/:sourceId';
const SUBMIT_ROUTE = `${SOURCE_ROUTE_PREFIX}/records`;
const REALM = 'Bearer realm="record-pipeline"';
const ADMIN: Principal = { role: 'admin' };
const PUBLIC: Principal = { role: 'public' };
// Compared against when no key row matches, so that a miss costs the same hashing as a hit.
const NO_KEY = secretHash('no such key');

function tooManyFailures(retryAfter: number): ApiError {
  return new ApiError(429, 'rate_limited', `too many failed authentications from this address; retry in ${retryAfter} s`, undefined, {
    'retry-after': String(retryAfter),
  });
}

function unauthorized(missing: boolean): ApiError {
  // One message for every failure: the answer never says whether a key, or a source, exists.
  return new ApiError(401, 'unauthorized', 'missing or invalid credentials: send Authorization: Bearer <token>', undefined, {
    'www-authenticate': missing ? REALM : `${REALM}, error="invalid_token"`,
  });
}

// A publisher submits and reads; skip and retry of a blocked record stay operator (admin) actions.
function sourceKeyMay(principal: { sourceId: string }, request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (!route || !(route === SOURCE_ROUTE_PREFIX || route.startsWith(`${SOURCE_ROUTE_PREFIX}/`))) return false;
  const reads = request.method === 'GET' || request.method === 'HEAD';
  if (!reads && !(request.method === 'POST' && route === SUBMIT_ROUTE)) return false;
  return (request.params as { sourceId?: string }).sourceId === principal.sourceId;
}

export const authPlugin = fp<AuthOptions>(
  async (app, opts) => {
    const adminHash = opts.adminToken ? secretHash(opts.adminToken) : undefined;
    const touchEveryMs = opts.touchEveryMs ?? 60_000;
    const touched = new Map<string, number>();
    const failures = new FailureLimiter(opts.failuresPerMinute ?? 20);
    // A failure past the limit is answered 429, so a guessing loop is told to stop; the token is
    // still checked first, so a valid one is never refused here.
    const refuse = (request: FastifyRequest, missing: boolean): ApiError => {
      const retryAfter = failures.fail(request.ip);
      return retryAfter ? tooManyFailures(retryAfter) : unauthorized(missing);
    };
    app.decorateRequest('principal', null as never);
    // Key lookups use the credential pool (app.authPool, see plugins/db.ts); cached and coalesced,
    // they cost at most one query per key per KEY_CACHE_MS however many requests carry the key.
    const lookups = new Map<string, { at: number; row: Promise<KeyRow | undefined> }>();
    app.decorate('forgetKey', (keyId: string) => void lookups.delete(keyId));

    const lookup = (keyId: string): Promise<KeyRow | undefined> => {
      const hit = lookups.get(keyId);
      if (hit && Date.now() - hit.at < KEY_CACHE_MS) return hit.row;
      if (lookups.size > 10_000) lookups.clear();
      const entry = { at: Date.now(), row: findLiveKey(app.authPool, keyId) };
      lookups.set(keyId, entry);
      entry.row.catch(() => lookups.get(keyId) === entry && lookups.delete(keyId));
      return entry.row;
    };

    const identify = async (token: string, request: FastifyRequest): Promise<Principal | undefined> => {
      if (adminHash && sameSecret(token, adminHash)) return ADMIN;
      const parsed = parseSourceKey(token);
      let row: KeyRow | undefined;
      try {
        row = parsed ? await lookup(parsed.keyId) : undefined;
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'key lookup failed');
        throw new ApiError(503, 'auth_unavailable', 'credentials cannot be checked right now; retry shortly', undefined, {
          'retry-after': '1',
        });
      }
      const match = sameSecret(token, row?.key_hash ?? NO_KEY);
      if (!row || !match) return undefined;
      const now = Date.now();
      if (now - (touched.get(row.key_id) ?? 0) >= touchEveryMs) {
        if (touched.size > 10_000) touched.clear();
        touched.set(row.key_id, now);
        touchKey(app.authPool, row.key_id).catch((err: Error) => request.log.warn({ err: err.message }, 'could not record key use'));
      }
      return { role: 'source', sourceId: row.source_id, keyId: row.key_id };
    };

    app.addHook('onRequest', async (request) => {
      if (opts.mode === 'off') {
        request.principal = ADMIN;
        return;
      }
      if (isPublicRoute(request.routeOptions.url)) {
        request.principal = PUBLIC;
        return;
      }
      const token = bearerToken(request.headers.authorization);
      if (!token) throw refuse(request, true);
      const principal = await identify(token, request);
      if (!principal) throw refuse(request, false);
      request.principal = principal;
      if (principal.role === 'source' && !sourceKeyMay(principal, request)) {
        throw new ApiError(403, 'forbidden', 'a source key may only read and write its own source');
      }
    });
  },
  { name: 'auth', dependencies: ['db'] },
);
