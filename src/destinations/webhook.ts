// One call of a source's webhook, by the Standard Webhooks convention, and what its answer means
// for the record: delivered, try again later (and when), rejected, or the endpoint is gone.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { JsonObject } from '../stages/work';

export interface WebhookCall {
  url: string;
  secret: string;
  sourceId: string;
  seq: number;
  recordId: string;
  /** The region's epoch: a fencing token a receiver may compare (a lower one is a stale sender). */
  epoch: number;
  output: JsonObject;
}

export type WebhookAnswer =
  | { kind: 'delivered'; status: number }
  /** Timeouts, connection errors, 5xx, 429, 408: the record waits and the call is made again. */
  | { kind: 'retry'; status: number | null; error: string; retryAfterMs?: number }
  /** Any other answer (4xx, a redirect): the record itself is refused, it blocks. */
  | { kind: 'reject'; status: number | null; error: string }
  /** 410 Gone: the destination is disabled until an admin sets it again. */
  | { kind: 'gone'; status: 410; error: string }
  /** Not called: the lookup refused the address the name resolved to (the error says why). */
  | { kind: 'refused'; status: null; error: string };

/** How much of an answer's body is kept as the reason. */
const ANSWER_BYTES = 200;
/** An answer longer than this is not read to its end. */
const MAX_DRAIN_BYTES = 64 * 1024;

/** `<sourceId>:<seq>`: the same on every retry, failover and replay, so receivers deduplicate by it. */
export function webhookId(sourceId: string, seq: number): string {
  return `${sourceId}:${seq}`;
}

/** The request as sent: body and headers (signed over id, timestamp and body). */
export function webhookRequest(call: WebhookCall, now: Date): { body: string; headers: Record<string, string> } {
  const id = webhookId(call.sourceId, call.seq);
  const body = JSON.stringify({ sourceId: call.sourceId, seq: call.seq, id: call.recordId, output: call.output });
  const signature = new Webhook(call.secret).sign(id, now, body);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
      'webhook-epoch': String(call.epoch),
    },
  };
}

/** Retry-After in milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What an HTTP status means for the record. */
export function classify(status: number, text: string, retryAfter?: number): WebhookAnswer {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const error = `${status}${text ? `: ${text}` : ''}`;
  if (status === 410) return { kind: 'gone', status, error };
  if (status >= 500 || status === 429 || status === 408) return { kind: 'retry', status, error, retryAfterMs: retryAfter };
  return { kind: 'reject', status, error: status >= 300 && status < 400 ? `${error} (redirects are not followed)` : error };
}

// Kept-alive connections per endpoint: a source's records are called one after another.
const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/**
 * Sends the call once, at most timeoutMs. Never throws: a network failure is an answer too
 * (retry). Redirects are not followed: a redirect could lead past the host allow-list. Node's http
 * client rather than fetch: a third of fetch's CPU per call.
 */
export function sendWebhook(
  call: WebhookCall,
  timeoutMs: number,
  /** Resolves the endpoint's name for a new connection, and may refuse its address (an error with refusedCode). */
  guard?: { lookup: LookupFunction; refusedCode: string },
  now = new Date(),
): Promise<WebhookAnswer> {
  const { body, headers } = webhookRequest(call, now);
  const url = new URL(call.url);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: WebhookAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: agents[url.protocol as keyof typeof agents],
        lookup: guard?.lookup,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const text = Buffer.concat(chunks).toString('utf8', 0, Math.min(size, ANSWER_BYTES)).replace(/\s+/g, ' ').trim();
          settle(classify(res.statusCode ?? 0, text, retryAfterMs(header(res.headers['retry-after']))));
        };
        res.on('data', (chunk: Buffer) => {
          // Only the start of the answer is kept; the rest is read and dropped, so the connection stays usable.
          if (size < ANSWER_BYTES) chunks.push(chunk);
          size += chunk.length;
          // A long answer is not read to its end: the connection is closed instead.
          if (size > MAX_DRAIN_BYTES) {
            res.destroy();
            done();
          }
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      settle({ kind: 'retry', status: null, error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      settle(
        guard && err.code === guard.refusedCode
          ? { kind: 'refused', status: null, error: err.message }
          : { kind: 'retry', status: null, error: `${err.code ?? err.name}: ${err.message}` },
      ),
    );
    req.end(body);
  });
}

function header(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}
