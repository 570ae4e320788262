-- Source keys: bearer credentials that may read and write one source. Only a sha256 of the key is
-- kept; the key itself is shown once, when it is created. No foreign key to sources: a key may be
-- issued before the source's first record.
CREATE TABLE source_keys (
  key_id        text PRIMARY KEY,
  source_id     text NOT NULL,
  key_hash      bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX source_keys_source ON source_keys (source_id, created_at);
