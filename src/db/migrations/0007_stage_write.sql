-- A stage write in one statement, so one round trip: the fence, the gate, the record's state, the
-- stage row (and the delivery), the watermark's move past skipped records, the NOTIFY that wakes
-- fast-path waiters and the hand-off to a registered waiter. The stage worker computes the output
-- before it calls (from a read without locks: a record's input never changes once written); this
-- function decides, under the same locks and in the same order as before (regions FOR SHARE, the
-- watermark row, then the record row), whether that output is written.
--
-- p_output NULL: the caller saw the gate closed and computed nothing. Outcomes:
--   fenced    the region is not the active writer at p_epoch (fence_active and fence_epoch say why)
--   missing   no record or no watermark row
--   skipped   an operator skipped the record
--   already   an earlier attempt finished the stage
--   waiting   an earlier record has not finished the stage (registered: this record waits for a signal)
--   open      the gate is open but p_output is NULL: compute it and call again
--   done      written; wake: the record now first in line registered for the gate signal
CREATE FUNCTION stage_write(
  p_region text,
  p_stage text,
  p_source text,
  p_seq bigint,
  p_epoch bigint,
  p_output jsonb,
  p_hold_up_to integer,
  OUT outcome text,
  OUT watermarks jsonb,
  OUT wake boolean,
  OUT registered boolean,
  OUT fence_active boolean,
  OUT fence_epoch bigint
) LANGUAGE plpgsql AS $$
DECLARE
  v_wm bigint;
  v_status text;
  v_new bigint;
BEGIN
  wake := false;
  registered := false;
  -- FOR SHARE: a failover (LOCK TABLE regions IN EXCLUSIVE MODE) waits for this write, and a write
  -- after the switch sees the new epoch.
  SELECT r.active, r.epoch INTO fence_active, fence_epoch FROM regions r WHERE r.name = p_region FOR SHARE;
  IF fence_active IS DISTINCT FROM true OR fence_epoch IS DISTINCT FROM p_epoch THEN
    outcome := 'fenced';
    RETURN;
  END IF;

  SELECT w.watermark INTO v_wm FROM watermarks w WHERE w.source_id = p_source AND w.stage = p_stage FOR UPDATE;
  SELECT r.status INTO v_status FROM records r WHERE r.source_id = p_source AND r.seq = p_seq FOR UPDATE;
  IF v_wm IS NULL OR v_status IS NULL THEN
    outcome := 'missing';
    RETURN;
  END IF;

  IF v_status = 'skipped' THEN
    outcome := 'skipped';
  ELSIF v_wm >= p_seq THEN
    outcome := 'already';
  ELSIF v_wm < p_seq - 1 THEN
    outcome := 'waiting';
    -- Registered under the watermark row's lock: the predecessor's advance cannot miss it.
    IF p_seq - 1 - v_wm > p_hold_up_to THEN
      INSERT INTO gate_waiters (source_id, stage, seq) VALUES (p_source, p_stage, p_seq) ON CONFLICT DO NOTHING;
      registered := true;
    END IF;
  ELSIF p_output IS NULL THEN
    outcome := 'open';
  ELSE
    EXECUTE format(
      'INSERT INTO %I (source_id, seq, region, epoch, output) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source_id, seq) DO NOTHING',
      'stage_' || p_stage
    ) USING p_source, p_seq, p_region, p_epoch, p_output;
    IF p_stage = 'outbound' THEN
      INSERT INTO deliveries (source_id, seq, region, epoch, output) VALUES (p_source, p_seq, p_region, p_epoch, p_output)
        ON CONFLICT (source_id, seq) DO NOTHING;
      UPDATE records SET status = 'delivered', finished_at = now() WHERE source_id = p_source AND seq = p_seq;
    ELSIF v_status <> 'processing' THEN
      UPDATE records SET status = 'processing', blocked_stage = NULL, blocked_reason = NULL
       WHERE source_id = p_source AND seq = p_seq;
    END IF;

    -- The new watermark: past the run of skipped records right after p_seq, one primary-key probe
    -- per record (the twin of skippedRunEnd in src/db/skipped-run.ts).
    v_new := p_seq;
    LOOP
      PERFORM 1 FROM records r WHERE r.source_id = p_source AND r.seq = v_new + 1 AND r.status = 'skipped';
      EXIT WHEN NOT FOUND;
      v_new := v_new + 1;
    END LOOP;
    UPDATE watermarks SET watermark = v_new, updated_at = now(), nudged_at = NULL
     WHERE source_id = p_source AND stage = p_stage AND watermark < v_new;
    -- Delivered on commit only (the channel, gateChannel, and the payload of notifyGate in src/db/stages.ts).
    PERFORM pg_notify('pipeline_gate_' || p_stage, json_build_object('s', p_source, 't', p_stage, 'w', v_new)::text);
    WITH taken AS (
      DELETE FROM gate_waiters g WHERE g.source_id = p_source AND g.stage = p_stage AND g.seq <= v_new + 1 RETURNING g.seq
    )
    SELECT coalesce(bool_or(seq = v_new + 1), false) INTO wake FROM taken;
    outcome := 'done';
  END IF;

  SELECT coalesce(jsonb_object_agg(w.stage, w.watermark), '{}'::jsonb) INTO watermarks
    FROM watermarks w WHERE w.source_id = p_source;
END;
$$;
