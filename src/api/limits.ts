// Limits on hostile or runaway clients: per-key rate limits, a body shape guard, and a bounded
// number of submits in flight.
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors';

/** Deeper JSON is refused: it buys nothing for a record and costs stack in every consumer. */
export const MAX_JSON_DEPTH = 64;

export interface LimitOptions {
  ratePerMinute: number;
}

const rateKey = (request: FastifyRequest): string => {
  const p = request.principal;
  return p?.role === 'source' ? `key:${p.keyId}` : `ip:${request.ip}`;
};

export const limitsPlugin = fp<LimitOptions>(
  async (app, opts) => {
    // Registered after auth, so its onRequest hook sees who is calling. The admin token is not
    // limited: operators must reach the admin routes while publishers are throttled.
    await app.register(rateLimit, {
      global: true,
      max: opts.ratePerMinute,
      timeWindow: 60_000,
      keyGenerator: rateKey,
      allowList: (request) => request.principal?.role === 'admin',
      errorResponseBuilder: (_request, context) =>
        new ApiError(429, 'rate_limited', `more than ${context.max} requests per minute; retry in ${context.after}`),
    });
    app.addHook('preValidation', async (request) => {
      if (request.body !== undefined && request.body !== null) checkJsonShape(request.body);
    });
  },
  { name: 'limits', dependencies: ['auth'] },
);

/**
 * Walks a parsed body without recursion: refuses nesting deeper than MAX_JSON_DEPTH and text that
 * Postgres cannot store (NUL, unpaired surrogates), so such input is a 400 and never a failed write.
 */
export function checkJsonShape(body: unknown): void {
  const stack: [unknown, number][] = [[body, 1]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      checkText(value);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_JSON_DEPTH) throw new ApiError(400, 'too_deep', `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(value)) {
      for (const v of value) stack.push([v, depth + 1]);
    } else {
      for (const [k, v] of Object.entries(value)) {
        checkText(k);
        stack.push([v, depth + 1]);
      }
    }
  }
}

const BAD_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkText(s: string): void {
  if (BAD_TEXT.test(s)) {
    throw new ApiError(400, 'invalid_text', 'strings may not contain NUL (\\u0000) or unpaired UTF-16 surrogates');
  }
}

/** Counts submits in progress; over the bound the caller answers 503 at once and writes nothing. */
export class InflightGate {
  private inflight = 0;

  constructor(readonly max: number) {}

  get current(): number {
    return this.inflight;
  }

  /** Throws the 503 if full: called early too, so a refused request is not even parsed. */
  check(): void {
    if (this.inflight >= this.max) {
      throw new ApiError(503, 'overloaded', `${this.max} submits are in progress; retry shortly`, undefined, { 'retry-after': '1' });
    }
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    this.inflight++;
    try {
      return await fn();
    } finally {
      this.inflight--;
    }
  }
}
