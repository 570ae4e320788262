-- Webhook destinations. A source's destination lives in sources.destination (jsonb, '{}' = the
-- deliveries table only): {"type":"webhook","url","secret"}, plus "disabledAt" and "disabledReason"
-- once the endpoint answered 410 Gone (an admin's next PUT clears them).
--
-- The outbound stage's failed calls, one row per record still trying: attempts so far, the
-- endpoint's last answer and when the next attempt is due. Deleted when the record is delivered or
-- skipped, so the table holds only open work.
CREATE TABLE webhook_attempts (
  source_id        text NOT NULL,
  seq              bigint NOT NULL,
  attempts         integer NOT NULL,
  -- HTTP status of the last answer; NULL: no answer (timeout, connection refused or reset).
  last_status      integer,
  -- What went wrong: "503 Service Unavailable: <first bytes of the body>", "timeout after 5000 ms", ...
  last_error       text NOT NULL,
  last_at          timestamptz NOT NULL DEFAULT now(),
  next_attempt_at  timestamptz,
  PRIMARY KEY (source_id, seq)
);

-- The scrapes list disabled destinations (410) through this, without reading every source.
CREATE INDEX sources_destination_disabled ON sources (source_id) WHERE destination ? 'disabledAt';
