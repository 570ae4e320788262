-- Regions: the failover "DNS record". One row per region; the active one and the epoch that fences writers.
CREATE TABLE regions (
  name        text PRIMARY KEY,
  namespace   text NOT NULL,
  active      boolean NOT NULL,
  epoch       bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sources (
  source_id    text PRIMARY KEY,
  last_seq     bigint NOT NULL DEFAULT 0,
  ordering     text NOT NULL DEFAULT 'strict',
  destination  jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- The checkpoint. epoch/region say where its workflow was last started (NULL: not yet).
CREATE TABLE records (
  source_id       text NOT NULL REFERENCES sources (source_id),
  seq             bigint NOT NULL,
  record_id       text NOT NULL,
  payload         jsonb NOT NULL,
  payload_hash    text NOT NULL,
  accepted_at     timestamptz NOT NULL DEFAULT now(),
  status          text NOT NULL DEFAULT 'accepted'
                  CHECK (status IN ('accepted', 'processing', 'blocked', 'delivered', 'skipped')),
  region          text,
  epoch           bigint,
  started_at      timestamptz,
  blocked_stage   text,
  blocked_reason  text,
  finished_at     timestamptz,
  PRIMARY KEY (source_id, seq),
  UNIQUE (source_id, record_id)
);
-- The relay scans records that still need a workflow.
CREATE INDEX records_open ON records (source_id, seq) WHERE status IN ('accepted', 'processing');
CREATE INDEX records_skipped ON records (source_id, seq) WHERE status = 'skipped';

CREATE TABLE stage_inbound (
  id          bigserial PRIMARY KEY,
  source_id   text NOT NULL,
  seq         bigint NOT NULL,
  region      text NOT NULL,
  epoch       bigint NOT NULL,
  written_at  timestamptz NOT NULL DEFAULT now(),
  output      jsonb NOT NULL,
  UNIQUE (source_id, seq)
);
CREATE TABLE stage_preprocess (LIKE stage_inbound INCLUDING ALL);
CREATE TABLE stage_core (LIKE stage_inbound INCLUDING ALL);
CREATE TABLE stage_postprocess (LIKE stage_inbound INCLUDING ALL);
CREATE TABLE stage_outbound (LIKE stage_inbound INCLUDING ALL);
-- LIKE ... INCLUDING ALL shares the id sequence of stage_inbound; give each table its own.
CREATE SEQUENCE stage_preprocess_id_seq OWNED BY stage_preprocess.id;
ALTER TABLE stage_preprocess ALTER COLUMN id SET DEFAULT nextval('stage_preprocess_id_seq');
CREATE SEQUENCE stage_core_id_seq OWNED BY stage_core.id;
ALTER TABLE stage_core ALTER COLUMN id SET DEFAULT nextval('stage_core_id_seq');
CREATE SEQUENCE stage_postprocess_id_seq OWNED BY stage_postprocess.id;
ALTER TABLE stage_postprocess ALTER COLUMN id SET DEFAULT nextval('stage_postprocess_id_seq');
CREATE SEQUENCE stage_outbound_id_seq OWNED BY stage_outbound.id;
ALTER TABLE stage_outbound ALTER COLUMN id SET DEFAULT nextval('stage_outbound_id_seq');

CREATE TABLE deliveries (
  id            bigserial PRIMARY KEY,
  source_id     text NOT NULL,
  seq           bigint NOT NULL,
  region        text NOT NULL,
  epoch         bigint NOT NULL,
  delivered_at  timestamptz NOT NULL DEFAULT now(),
  output        jsonb NOT NULL,
  UNIQUE (source_id, seq)
);

-- Per source and stage: every seq <= watermark has finished the stage or was skipped.
-- The ordering gate's truth; the stage write that advances it holds its row lock.
CREATE TABLE watermarks (
  source_id  text NOT NULL REFERENCES sources (source_id),
  stage      text NOT NULL,
  watermark  bigint NOT NULL DEFAULT 0,
  -- When the watermark last moved, and when the sweeper last nudged the record next in line.
  updated_at timestamptz NOT NULL DEFAULT now(),
  nudged_at  timestamptz,
  PRIMARY KEY (source_id, stage)
);

CREATE TABLE faults (
  region      text NOT NULL,
  stage       text NOT NULL,
  reason      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (region, stage)
);

-- Skipped records, with why: never silently dropped.
CREATE TABLE dead_letters (
  source_id   text NOT NULL,
  seq         bigint NOT NULL,
  stage       text NOT NULL,
  reason      text,
  skipped_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_id, seq)
);
