-- The control role's lease: one row. The process holding it unexpired runs the control loops (the
-- relay and start window, the sweeper, the reconciler, the region router); any other replica takes
-- it over once it expires. `token` grows with every new holding: each action of the role (a claim
-- of records to start, a nudge, an automatic failover, a reconcile report) checks it in the same
-- statement, so a holder that was paused past its lease and wakes up changes nothing.
-- Expiry is judged by this server's clock only (now()), never by the processes' clocks.
CREATE TABLE control_lease (
  name                text PRIMARY KEY,
  holder              text,
  token               bigint NOT NULL DEFAULT 0,
  acquired_at         timestamptz,
  renewed_at          timestamptz,
  expires_at          timestamptz NOT NULL DEFAULT '-infinity',
  -- Operators' reconcile requests made through any replica; the holder runs a pass for each new one.
  reconcile_requests  bigint NOT NULL DEFAULT 0
);
INSERT INTO control_lease (name) VALUES ('control');

-- True while p_token is the unexpired lease (NULL: the action needs no lease, e.g. a submit's own start).
CREATE FUNCTION control_lease_valid(p_token bigint) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT p_token IS NULL OR EXISTS (SELECT 1 FROM control_lease WHERE name = 'control' AND token = p_token AND expires_at > now())
$$;

-- What the role's holder records for every replica to serve: the reconciler's passes and totals.
CREATE TABLE control_state (
  name        text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
