"""The feedback database, with one owner: schema and migrations, the bot's async store, the retrain
job's reader, votes -> labels, and the retrain lock.

Both `bot` and `training` import it; it imports neither (only `models` for types).

- `feedback.migrations/*.sql`, `feedback.migrate`: the schema, versioned.
- `feedback.records`: what goes in and comes out, and how columns are encoded.
- `feedback.store`: the bot's `Store` (aiosqlite).
- `feedback.reader`: labelled covers for retraining (stdlib sqlite3, read-only).
- `feedback.labels`: votes -> labels, suggestions, live accuracy (pure).
- `feedback.lock`: the retrain lock and model-version records (stdlib sqlite3).
"""
