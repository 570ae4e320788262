// Who may do what: the admin token may do everything; a source key reads and writes its own
// source only. Checked in onRequest, before the body is even read.
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { Pool } from '../db/pool';
import { findLiveKey, touchKey } from '../db/keys';
import { ApiError } from './errors';
import { bearerToken, parseSourceKey, sameSecret, sha256 } from './credentials';

export type Principal =
  | { role: 'admin' }
  | { role: 'source'; sourceId: string; keyId: string }
  | { role: 'public' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface AuthOptions {
  mode: 'on' | 'off';
  adminToken?: string;
  pool: Pool;
  /** last_used_at is written at most this often per key, not on every request. */
  touchEveryMs?: number;
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
const NO_KEY = sha256('no such key');

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
    const adminHash = opts.adminToken ? sha256(opts.adminToken) : undefined;
    const touchEveryMs = opts.touchEveryMs ?? 60_000;
    const touched = new Map<string, number>();
    app.decorateRequest('principal', null as never);

    const identify = async (token: string, request: FastifyRequest): Promise<Principal | undefined> => {
      if (adminHash && sameSecret(token, adminHash)) return ADMIN;
      const parsed = parseSourceKey(token);
      const row = parsed ? await findLiveKey(opts.pool, parsed.keyId) : undefined;
      const match = sameSecret(token, row?.key_hash ?? NO_KEY);
      if (!row || !match) return undefined;
      const now = Date.now();
      if (now - (touched.get(row.key_id) ?? 0) >= touchEveryMs) {
        if (touched.size > 10_000) touched.clear();
        touched.set(row.key_id, now);
        touchKey(opts.pool, row.key_id).catch((err: Error) => request.log.warn({ err: err.message }, 'could not record key use'));
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
      if (!token) throw unauthorized(true);
      const principal = await identify(token, request);
      if (!principal) throw unauthorized(false);
      request.principal = principal;
      if (principal.role === 'source' && !sourceKeyMay(principal, request)) {
        throw new ApiError(403, 'forbidden', 'a source key may only read and write its own source');
      }
    });
  },
  { name: 'auth' },
);
