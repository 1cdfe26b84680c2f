"""Reading a feedback database in tests: what the production code never needs to ask."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from feedback.labels import Vote
from feedback.records import StoredPrediction, decode_prediction, decode_vote
from feedback.store import Store


async def get_prediction(store: Store, prediction_id: int) -> StoredPrediction | None:
    rows = await store._fetch("SELECT * FROM predictions WHERE id = ?", (prediction_id,))
    return decode_prediction(rows[0]) if rows else None


async def votes_for(store: Store, prediction_id: int) -> list[Vote]:
    rows = await store._fetch("SELECT * FROM votes WHERE prediction_id = ? ORDER BY created, voter_id", (prediction_id,))
    return [decode_vote(row) for row in rows]


async def pragma(store: Store, name: str) -> Any:
    rows = await store._fetch(f"PRAGMA {name}")
    return rows[0][0] if rows else None


async def applied_migrations(store: Store) -> list[tuple[int, str]]:
    rows = await store._fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    return [(row["version"], row["name"]) for row in rows]


def retrain_run(db_path: Path, run_id: int) -> dict[str, Any] | None:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM retrain_runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    run = dict(row)
    run["summary"] = None if run["summary"] is None else json.loads(run["summary"])
    return run


def model_versions(db_path: Path) -> list[tuple[str, float, dict, bool, str | None]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT version, created, metrics, promoted, path FROM model_versions ORDER BY created, version"
        ).fetchall()
    return [(v, c, json.loads(m), bool(p), path) for v, c, m, p, path in rows]
