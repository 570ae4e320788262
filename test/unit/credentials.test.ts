import { bearerToken, newSourceKey, parseSourceKey, sameSecret, secretHash } from '../../src/api/credentials';
import { checkJsonShape, MAX_JSON_DEPTH } from '../../src/api/limits';
import { ApiError } from '../../src/api/errors';

describe('credentials', () => {
  it('reads a bearer token and nothing else', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer  abc')).toBe('abc');
    for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', `Bearer ${'x'.repeat(513)}`, 'Bearer tök'])
      expect(bearerToken(h)).toBeUndefined();
  });

  it('makes keys that parse to their id and match only their own hash', () => {
    const a = newSourceKey();
    const b = newSourceKey();
    expect(a.keyId).not.toBe(b.keyId);
    expect(parseSourceKey(a.key)).toEqual({ keyId: a.keyId });
    expect(sameSecret(a.key, a.hash)).toBe(true);
    expect(sameSecret(b.key, a.hash)).toBe(false);
    expect(sameSecret(a.key.slice(0, -1), a.hash)).toBe(false);
    expect(a.hash.equals(secretHash(a.key))).toBe(true);
    for (const t of ['k_123.abc', `${a.keyId}.`, `${a.keyId}x${a.key.slice(a.keyId.length)}`, `K${a.key.slice(1)}`])
      expect(parseSourceKey(t)).toBeUndefined();
  });
});

describe('the JSON shape guard', () => {
  const nested = (depth: number) => {
    let v: unknown = 1;
    for (let i = 1; i < depth; i++) v = i % 2 ? [v] : { k: v };
    return v;
  };
  const code = (body: unknown) => {
    try {
      checkJsonShape(body);
      return 'ok';
    } catch (err) {
      return (err as ApiError).code;
    }
  };

  it(`allows ${MAX_JSON_DEPTH} levels and refuses one more, without recursion`, () => {
    expect(code(nested(MAX_JSON_DEPTH + 1))).toBe('ok'); // the innermost level is a scalar
    expect(code(nested(MAX_JSON_DEPTH + 2))).toBe('too_deep');
    expect(code(nested(200_000))).toBe('too_deep');
  });

  it('refuses NUL and unpaired surrogates in keys and values, and keeps paired ones', () => {
    expect(code({ s: 'emoji \ud83d\ude00 ok' })).toBe('ok');
    for (const bad of [{ s: 'a\u0000' }, { 'k\u0000': 1 }, { s: '\ud800' }, { s: 'x\udc00' }, ['\ud83d'], { a: [{ b: '\ude00\ud83d' }] }])
      expect(code(bad)).toBe('invalid_text');
  });
});
