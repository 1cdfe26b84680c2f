-- Initial schema. Timestamps are unix seconds (REAL, UTC). JSON columns hold TEXT.

CREATE TABLE predictions (
    id            INTEGER PRIMARY KEY,
    created       REAL    NOT NULL,
    platform      TEXT    NOT NULL CHECK (platform IN ('discord', 'telegram', 'console')),
    server_id     TEXT,
    channel_id    TEXT,
    message_id    TEXT,   -- the bot's reply; set once it has been sent
    requester_id  TEXT,
    source_kind   TEXT    NOT NULL CHECK (source_kind IN ('spotify', 'upload', 'url', 'console')),
    source_ref    TEXT    NOT NULL,
    image_sha256  TEXT    NOT NULL,
    model_version TEXT    NOT NULL,
    top_genre     TEXT    NOT NULL,
    probabilities TEXT    NOT NULL CHECK (json_valid(probabilities)),  -- {genre: p}
    popularity    REAL    NOT NULL,
    tags          TEXT    NOT NULL CHECK (json_valid(tags)),           -- [[tag, score], ...]
    features      BLOB    NOT NULL                                     -- float16 little-endian
);
CREATE INDEX idx_predictions_message   ON predictions (message_id);
CREATE INDEX idx_predictions_requester ON predictions (requester_id);
CREATE INDEX idx_predictions_created   ON predictions (created);

-- One row per prediction and voter: a new vote replaces the old one, a retraction deletes it.
CREATE TABLE votes (
    prediction_id INTEGER NOT NULL REFERENCES predictions (id) ON DELETE CASCADE,
    voter_id      TEXT    NOT NULL,
    label         TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created       REAL    NOT NULL,
    PRIMARY KEY (prediction_id, voter_id)
) WITHOUT ROWID;
CREATE INDEX idx_votes_voter   ON votes (voter_id);
CREATE INDEX idx_votes_created ON votes (created);

CREATE TABLE model_versions (
    version  TEXT    PRIMARY KEY,
    created  REAL    NOT NULL,
    metrics  TEXT    NOT NULL CHECK (json_valid(metrics)),
    promoted INTEGER NOT NULL DEFAULT 0 CHECK (promoted IN (0, 1)),
    path     TEXT
);

CREATE TABLE retrain_runs (
    id        INTEGER PRIMARY KEY,
    started   REAL    NOT NULL,
    finished  REAL,
    status    TEXT    NOT NULL CHECK (status IN ('running', 'promoted', 'rejected', 'failed', 'crashed')),
    trigger   TEXT    NOT NULL CHECK (trigger IN ('manual', 'periodic', 'cli')),
    summary   TEXT    CHECK (summary IS NULL OR json_valid(summary)),
    pid       INTEGER NOT NULL,
    heartbeat REAL    NOT NULL
);
CREATE INDEX idx_retrain_runs_started ON retrain_runs (started);
-- The retrain lock: SQLite itself refuses a second 'running' row, whichever process tries.
CREATE UNIQUE INDEX one_running_retrain ON retrain_runs (status) WHERE status = 'running';
