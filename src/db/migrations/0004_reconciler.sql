-- The reconciler pages through open records of the active epoch, blocked ones included.
CREATE INDEX records_open_epoch ON records (epoch, source_id, seq) WHERE status IN ('accepted', 'processing', 'blocked');
