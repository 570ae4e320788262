// Admin routes for source keys: create (the key is shown once), list, revoke.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { insertKey, listKeys, revokeKey, type KeyRow } from '../../db/keys';
import { newSourceKey } from '../credentials';
import { ApiError } from '../errors';
import { ErrorBody, KeyCreated, KeyInfo, KeyList, KeyParams, SourceParams } from '../schemas';
import type { Static } from '@sinclair/typebox';

const info = (r: KeyRow): Static<typeof KeyInfo> => ({
  keyId: r.key_id,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

export const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/admin/sources/:sourceId/keys',
    {
      schema: {
        summary: 'Create a source key: it may submit to and read this source only (the key is shown once)',
        params: SourceParams,
        response: { 201: KeyCreated, 400: ErrorBody },
      },
    },
    async (request, reply) => {
      const { sourceId } = request.params;
      const { keyId, key, hash } = newSourceKey();
      const row = await insertKey(app.pool, keyId, sourceId, hash);
      request.log.info({ sourceId, keyId }, 'source key created');
      return reply.status(201).send({ keyId, key, sourceId, createdAt: row.created_at.toISOString() });
    },
  );

  app.get(
    '/v1/admin/sources/:sourceId/keys',
    {
      schema: {
        summary: "A source's keys: ids, creation, last use, revocation (never the keys)",
        params: SourceParams,
        response: { 200: KeyList },
      },
    },
    async (request) => ({ sourceId: request.params.sourceId, keys: (await listKeys(app.pool, request.params.sourceId)).map(info) }),
  );

  app.delete(
    '/v1/admin/sources/:sourceId/keys/:keyId',
    {
      schema: {
        summary: 'Revoke a source key; the next request with it gets 401',
        params: KeyParams,
        response: { 200: KeyInfo, 404: ErrorBody },
      },
    },
    async (request) => {
      const { sourceId, keyId } = request.params;
      const row = await revokeKey(app.pool, sourceId, keyId);
      if (!row) throw new ApiError(404, 'key_not_found', `no key ${keyId} for source ${sourceId}`);
      app.forgetKey(keyId);
      request.log.info({ sourceId, keyId }, 'source key revoked');
      return info(row);
    },
  );
};
