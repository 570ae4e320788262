// Source keys in Postgres: one query per function, only hashes stored.
import type { Pool } from './pool';

export interface KeyRow {
  key_id: string;
  source_id: string;
  key_hash: Buffer;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function insertKey(pool: Pool, keyId: string, sourceId: string, hash: Buffer): Promise<KeyRow> {
  const { rows } = await pool.query<KeyRow>('INSERT INTO source_keys (key_id, source_id, key_hash) VALUES ($1, $2, $3) RETURNING *', [
    keyId,
    sourceId,
    hash,
  ]);
  return rows[0];
}

export async function listKeys(pool: Pool, sourceId: string): Promise<KeyRow[]> {
  const { rows } = await pool.query<KeyRow>('SELECT * FROM source_keys WHERE source_id = $1 ORDER BY created_at, key_id', [sourceId]);
  return rows;
}

/** The live (not revoked) key with this id, if any. */
export async function findLiveKey(pool: Pool, keyId: string): Promise<KeyRow | undefined> {
  const { rows } = await pool.query<KeyRow>('SELECT * FROM source_keys WHERE key_id = $1 AND revoked_at IS NULL', [keyId]);
  return rows[0];
}

/** Revokes a key of this source; a second revoke keeps the first time. Undefined if no such key. */
export async function revokeKey(pool: Pool, sourceId: string, keyId: string): Promise<KeyRow | undefined> {
  const { rows } = await pool.query<KeyRow>(
    'UPDATE source_keys SET revoked_at = coalesce(revoked_at, now()) WHERE source_id = $1 AND key_id = $2 RETURNING *',
    [sourceId, keyId],
  );
  return rows[0];
}

export async function touchKey(pool: Pool, keyId: string): Promise<void> {
  await pool.query('UPDATE source_keys SET last_used_at = now() WHERE key_id = $1', [keyId]);
}
