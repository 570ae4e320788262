-- The checkpoint of a submit in one statement, so one round trip on the request's path: create the
-- source (and its watermarks) on first use, lock it, find the ids it already has, give the new ones
-- the next seqs and insert them. The caller passes each id once, in the order of first occurrence
-- in the request, with its payload and payload hash. An id already accepted with another payload
-- raises SQLSTATE PC409 with the conflicting ids in DETAIL (a JSON array), and nothing is
-- written (the statement rolls back as a whole).
CREATE FUNCTION checkpoint_records(
  p_source text,
  p_ids text[],
  p_payloads jsonb[],
  p_hashes text[],
  OUT seqs json,
  OUT fresh boolean[]
) LANGUAGE plpgsql AS $$
DECLARE
  v_last bigint;
  v_conflicts text;
BEGIN
  INSERT INTO sources (source_id) VALUES (p_source) ON CONFLICT DO NOTHING;
  IF FOUND THEN
    INSERT INTO watermarks (source_id, stage)
      SELECT p_source, s FROM unnest(ARRAY['inbound', 'preprocess', 'core', 'postprocess', 'outbound']) AS s
      ON CONFLICT DO NOTHING;
  END IF;
  SELECT last_seq INTO v_last FROM sources WHERE source_id = p_source FOR UPDATE;

  SELECT json_agg(r.record_id ORDER BY i.n)::text INTO v_conflicts
    FROM unnest(p_ids, p_hashes) WITH ORDINALITY AS i (id, hash, n)
    JOIN records r ON r.source_id = p_source AND r.record_id = i.id
   WHERE r.payload_hash <> i.hash;
  IF v_conflicts IS NOT NULL THEN
    RAISE EXCEPTION 'ids already accepted with another payload' USING ERRCODE = 'PC409', DETAIL = v_conflicts;
  END IF;

  -- Known ids keep their seq; new ones get the next seqs in request order.
  WITH items AS (
    SELECT i.id, i.payload, i.hash, i.n, r.seq AS known
      FROM unnest(p_ids, p_payloads, p_hashes) WITH ORDINALITY AS i (id, payload, hash, n)
      LEFT JOIN records r ON r.source_id = p_source AND r.record_id = i.id
  ),
  numbered AS (
    SELECT items.*, coalesce(known, v_last + count(*) FILTER (WHERE known IS NULL) OVER (ORDER BY n)) AS seq
      FROM items
  ),
  -- A data-modifying CTE runs to completion whether or not the query reads it.
  inserted AS (
    INSERT INTO records (source_id, seq, record_id, payload, payload_hash)
    SELECT p_source, seq, id, payload, hash FROM numbered WHERE known IS NULL
  )
  -- seqs as JSON: node-postgres reads a bigint[] as strings.
  SELECT json_agg(seq ORDER BY n), array_agg(known IS NULL ORDER BY n) INTO seqs, fresh FROM numbered;

  UPDATE sources SET last_seq = v_last + (SELECT count(*) FROM unnest(fresh) AS f WHERE f)
   WHERE source_id = p_source AND (SELECT bool_or(f) FROM unnest(fresh) AS f);
END;
$$;
