-- Operators' view: /v1/stats and /metrics count recent acceptances and deliveries, and blocked
-- records, without scanning the tables.
CREATE INDEX records_accepted_at ON records (accepted_at);
CREATE INDEX deliveries_delivered_at ON deliveries (delivered_at);
CREATE INDEX records_blocked ON records (source_id, seq) WHERE status = 'blocked';

-- Writes refused by fencing, counted by the worker that was refused (its own write rolled back),
-- so the API can export them: events of worker processes, kept where every process can read them.
CREATE TABLE fencing_refusals (
  region      text NOT NULL,
  stage       text NOT NULL,
  refusals    bigint NOT NULL DEFAULT 0,
  last_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (region, stage)
);
