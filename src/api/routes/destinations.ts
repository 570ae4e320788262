// Admin routes for where a source's records are delivered: the deliveries table (default) or, as
// well, a webhook. Set (which also re-enables a webhook disabled by a 410) and show; the secret is
// never shown.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { findDestination, storeDestination } from '../../db/destinations';
import { storedDestination } from '../../destinations/destination';
import { MAX_URL_LENGTH, parseAllowedHosts, SECRET_MAX_BYTES, SECRET_MIN_BYTES, validateDestination } from '../../destinations/validate';
import { ApiError } from '../errors';
import { ErrorBody, SourceParams } from '../schemas';

const TableBody = Type.Object({ type: Type.Literal('table') }, { additionalProperties: false, title: 'table' });
const WebhookBody = Type.Object(
  {
    type: Type.Literal('webhook'),
    url: Type.String({
      description: `https (http only to a host in WEBHOOK_ALLOWED_HOSTS), no credentials or fragment, at most ${MAX_URL_LENGTH} characters`,
    }),
    secret: Type.String({ description: `whsec_ and the base64 of ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} random bytes` }),
  },
  { additionalProperties: false, title: 'webhook' },
);
const BODIES = { table: TableBody, webhook: WebhookBody };

export const DestinationBody = Type.Union([TableBody, WebhookBody], {
  description: '{"type":"table"} (the default: the deliveries table only) or {"type":"webhook","url","secret"}',
});

/**
 * Why a body is not a destination, said for a person: the union's own errors list every branch
 * ("must be equal to constant, must have required property 'url', must match a schema in anyOf");
 * this names the type's choices, or what is wrong for the type given.
 */
export function bodyProblem(body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'the body must be a JSON object: {"type":"table"} or {"type":"webhook","url":"https://...","secret":"whsec_..."}';
  }
  const type = (body as { type?: unknown }).type;
  if (type !== 'table' && type !== 'webhook') return `body/type must be one of: ${Object.keys(BODIES).join(', ')}`;
  // The first error of each field (a missing one is also "expected string").
  const errors = new Map<string, string>();
  for (const e of Value.Errors(BODIES[type], body)) if (!errors.has(e.path)) errors.set(e.path, e.message.toLowerCase());
  const list = [...errors].map(([path, message]) => `body${path}: ${message}`).join('; ');
  return `a ${type} destination takes ${type === 'table' ? 'no other field' : 'exactly url and secret, both strings'}: ${list}`;
}

export const DestinationView = Type.Object({
  sourceId: Type.String(),
  type: Type.Union([Type.Literal('table'), Type.Literal('webhook')]),
  url: Type.Optional(Type.String()),
  secretSet: Type.Optional(Type.Literal(true, { description: 'a webhook has a secret; it is never shown' })),
  disabledAt: Type.Optional(Type.String({ description: 'when the endpoint answered 410 Gone; a PUT enables it again' })),
  disabledReason: Type.Optional(Type.String()),
});
export type DestinationView = Static<typeof DestinationView>;

/** The stored JSON as the API shows it: everything but the secret. */
function view(sourceId: string, stored: unknown): DestinationView {
  const d = storedDestination(stored);
  if (d.type === 'table') return { sourceId, type: 'table' };
  return {
    sourceId,
    type: 'webhook',
    url: d.url,
    secretSet: true,
    ...(d.disabledAt ? { disabledAt: isoTime(d.disabledAt), disabledReason: d.disabledReason } : {}),
  };
}

/** A time stored in the JSON (Postgres writes `2030-01-02T03:04:05.123456+00:00`) as the API's other times. */
function isoTime(text: string): string {
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? text : at.toISOString();
}

export const destinationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const allowedHosts = parseAllowedHosts(app.config.WEBHOOK_ALLOWED_HOSTS);

  app.put(
    '/v1/admin/sources/:sourceId/destination',
    {
      schema: {
        summary: "Set where a source's records are delivered (creates the source if needed; re-enables a disabled webhook)",
        params: SourceParams,
        body: DestinationBody,
        response: { 200: DestinationView, 400: ErrorBody },
      },
      // A body that fails the schema is explained here (bodyProblem); anything else as usual.
      attachValidation: true,
    },
    async (request) => {
      const invalid = request.validationError;
      if (invalid) {
        if (invalid.validationContext !== 'body') throw invalid;
        throw new ApiError(400, 'invalid_request', bodyProblem(request.body));
      }
      const { sourceId } = request.params;
      const checked = validateDestination(request.body, allowedHosts);
      if (!checked.ok) throw new ApiError(400, checked.code, checked.message);
      const d = checked.destination;
      // Stored whole: whatever was there (a 410's disabledAt included) is replaced.
      const stored = await storeDestination(app.pool, sourceId, d.type === 'table' ? {} : { type: d.type, url: d.url, secret: d.secret });
      // The host only: a URL's path or query may carry a token of the endpoint's.
      request.log.info({ sourceId, type: d.type, ...(d.type === 'webhook' ? { host: new URL(d.url).host } : {}) }, 'destination set');
      return view(sourceId, stored);
    },
  );

  app.get(
    '/v1/admin/sources/:sourceId/destination',
    {
      schema: {
        summary: "Where a source's records are delivered (never the webhook's secret)",
        params: SourceParams,
        response: { 200: DestinationView, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId } = request.params;
      const found = await findDestination(app.pool, sourceId);
      if (!found) throw new ApiError(404, 'source_not_found', `no source ${sourceId}`);
      return view(sourceId, found.destination);
    },
  );
};
