-- Genres people suggested by vote that an admin approved as new classes (NEW_GENRES=admin).
-- `genre_key` is feedback.labels.genre_key(name): one row per genre however it is spelled.
CREATE TABLE genre_approvals (
    genre_key   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved    REAL NOT NULL
);
