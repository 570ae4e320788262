-- The gate's slow path: records whose stage attempt found the gate closed and gave up waiting in
-- the activity. Only they get the predecessor's "stage done" signal; everyone else is woken in
-- its activity by NOTIFY on the predecessor's commit, which costs Temporal nothing.
CREATE TABLE gate_waiters (
  source_id     text NOT NULL,
  stage         text NOT NULL,
  seq           bigint NOT NULL,
  registered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_id, stage, seq)
);
