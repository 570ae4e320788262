// Bearer credentials: the admin token and source keys, compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// A source key is `<keyId>.<secret>`: the id finds the row, the secret's hash is compared.
export const KEY_ID_PATTERN = '^k_[0-9a-f]{16}$';
const KEY_FORMAT = /^(k_[0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

/** The raw sha256 of a bearer secret: what Postgres keeps of a key, compared in constant time. */
export const secretHash = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Equal-length digests compared in constant time, so the time taken says nothing about the token. */
export function sameSecret(token: string, expectedHash: Buffer): boolean {
  return timingSafeEqual(secretHash(token), expectedHash);
}

export function newSourceKey(): { keyId: string; key: string; hash: Buffer } {
  const keyId = `k_${randomBytes(8).toString('hex')}`;
  const key = `${keyId}.${randomBytes(32).toString('base64url')}`;
  return { keyId, key, hash: secretHash(key) };
}

export function parseSourceKey(token: string): { keyId: string } | undefined {
  const m = KEY_FORMAT.exec(token);
  return m ? { keyId: m[1] } : undefined;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer +([\x21-\x7e]{1,512}) *$/i.exec(header);
  return m?.[1];
}
