-- Retention (RETENTION): finished records (delivered or skipped) older than it are removed with their
-- stage rows and deliveries, each source's oldest first, so what remains of a source is always the
-- seqs retained_from..last_seq, in order (the checker reads the range from here). Dead letters stay:
-- they are the operators' record of what was skipped, and few.
-- Kept apart from `sources`: a removal never waits for, or holds, the source row a submit locks.
CREATE TABLE source_retention (
  source_id      text PRIMARY KEY,
  retained_from  bigint NOT NULL DEFAULT 1
);

-- The retention pass finds the sources with records past the horizon through this.
CREATE INDEX records_finished_at ON records (finished_at) WHERE status IN ('delivered', 'skipped');

-- One batch of one source, in one transaction: the records from retained_from on that finished before
-- p_horizon, up to the first one that did not (open, or finished later) and at most p_batch of them,
-- with their rows in every stage table and in deliveries. Only while p_token is the control lease.
CREATE FUNCTION retention_remove(
  p_source text,
  p_horizon timestamptz,
  p_batch integer,
  p_token bigint,
  OUT records_removed integer,
  OUT rows_removed integer,
  OUT retained_from bigint
) LANGUAGE plpgsql AS $$
DECLARE
  v_to bigint;
  v_n integer;
  v_table text;
BEGIN
  records_removed := 0;
  rows_removed := 0;
  INSERT INTO source_retention (source_id) VALUES (p_source) ON CONFLICT DO NOTHING;
  SELECT k.retained_from INTO retained_from FROM source_retention k WHERE k.source_id = p_source FOR UPDATE;
  IF NOT control_lease_valid(p_token) THEN
    RETURN;
  END IF;
  -- The first record of the batch's range that must stay; none: the range ends at its last record.
  SELECT min(r.seq) INTO v_to FROM records r
   WHERE r.source_id = p_source AND r.seq >= retained_from AND r.seq < retained_from + p_batch
     AND NOT (r.status IN ('delivered', 'skipped') AND r.finished_at < p_horizon);
  IF v_to IS NULL THEN
    SELECT coalesce(max(r.seq) + 1, retained_from) INTO v_to FROM records r
     WHERE r.source_id = p_source AND r.seq >= retained_from AND r.seq < retained_from + p_batch;
  END IF;
  IF v_to <= retained_from THEN
    RETURN;
  END IF;
  FOREACH v_table IN ARRAY ARRAY['stage_inbound', 'stage_preprocess', 'stage_core', 'stage_postprocess', 'stage_outbound', 'deliveries'] LOOP
    EXECUTE format('DELETE FROM %I WHERE source_id = $1 AND seq >= $2 AND seq < $3', v_table) USING p_source, retained_from, v_to;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    rows_removed := rows_removed + v_n;
  END LOOP;
  DELETE FROM records r WHERE r.source_id = p_source AND r.seq >= retained_from AND r.seq < v_to;
  GET DIAGNOSTICS records_removed = ROW_COUNT;
  rows_removed := rows_removed + records_removed;
  retained_from := v_to;
  UPDATE source_retention k SET retained_from = v_to WHERE k.source_id = p_source;
END;
$$;
