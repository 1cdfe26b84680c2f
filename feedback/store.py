"""The bot's feedback store (aiosqlite): predictions and votes in, counts and voted covers out.

One `Store` owns one aiosqlite connection (one worker thread) in autocommit mode. An asyncio
lock serialises every operation on it, so a multi-statement transaction never interleaves with
another coroutine's statements. The retrain job opens its own connections to the same file
(`feedback.reader`, `feedback.lock`, stdlib sqlite3); WAL lets them read while the
bot writes, and `busy_timeout` makes writers queue. Retrain runs and model versions are written by
the retrain job only (`feedback.lock`); the store reads the latest run for /stats.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from feedback.labels import CONFIRM, clean_label, genre_key
from feedback.migrate import Migration, apply_migrations, load_migrations
from feedback.records import (
    VOTES_SQL,
    PredictionRecord,
    Stats,
    StoredPrediction,
    VotedCover,
    decode_prediction,
    decode_run,
    encode_record,
    pooled_votes,
)

DB_NAME = "sleeve.db"
BUSY_TIMEOUT_MS = 5_000
DAY_S = 86_400.0

Clock = Callable[[], float]


def default_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / DB_NAME


class Store:
    def __init__(self, conn: aiosqlite.Connection, path: Path, clock: Clock):
        self._conn = conn
        self._lock = asyncio.Lock()
        self._clock = clock
        self.path = path

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Clock = time.time,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        migrations: list[Migration] | None = None,
    ) -> Store:
        """Open (creating if needed) the database at `path` and bring its schema up to date."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await apply_migrations(conn, load_migrations() if migrations is None else migrations, clock())
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path, clock)

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self, mode: Literal["IMMEDIATE", "DEFERRED"] = "IMMEDIATE") -> AsyncIterator[None]:
        """IMMEDIATE takes the write lock up front, so busy_timeout (not a deadlock) handles contention."""
        async with self._lock:
            await self._conn.execute(f"BEGIN {mode}")
            try:
                yield
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def _fetch(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def _change(self, sql: str, params: Any = ()) -> int:
        """Run one writing statement; the number of rows it changed."""
        async with self._lock:
            cursor = await self._conn.execute(sql, params)
            return cursor.rowcount

    async def _rows(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        """Inside `_transaction`, where the lock is already held."""
        return list(await self._conn.execute_fetchall(sql, params))

    # -- predictions ----------------------------------------------------------------------------

    async def record_prediction(self, record: PredictionRecord) -> int:
        values = encode_record(record) | {"created": self._clock()}
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        sql = f"INSERT INTO predictions ({columns}) VALUES ({placeholders}) RETURNING id"
        rows = await self._fetch(sql, values)
        return rows[0]["id"]

    async def set_message_id(self, prediction_id: int, message_id: str) -> bool:
        sql = "UPDATE predictions SET message_id = ? WHERE id = ?"
        return await self._change(sql, (message_id, prediction_id)) == 1

    async def prediction_by_message(self, platform: str, message_id: str) -> StoredPrediction | None:
        rows = await self._fetch(
            "SELECT * FROM predictions WHERE message_id = ? AND platform = ? ORDER BY id DESC LIMIT 1",
            (message_id, platform),
        )
        return decode_prediction(rows[0]) if rows else None

    # -- votes ----------------------------------------------------------------------------------

    async def vote(self, prediction_id: int, voter_id: str, label: str, is_admin: bool = False) -> str | None:
        """Record (or replace) this voter's vote; the label stored, or None if there is no such prediction.

        `labels.CONFIRM` ("the top guess is right") is stored as the prediction's top genre; any
        other label is stored cleaned (`labels.clean_label`), and one that cleans to nothing is refused.
        """
        label = label if label == CONFIRM else clean_label(label)
        if not label:
            return None
        rows = await self._fetch(
            """
            INSERT INTO votes (prediction_id, voter_id, label, is_admin, created)
            SELECT id, :voter, CASE WHEN :label = :confirm THEN top_genre ELSE :label END, :admin, :now
            FROM predictions WHERE id = :prediction
            ON CONFLICT (prediction_id, voter_id) DO UPDATE
                SET label = excluded.label, is_admin = excluded.is_admin, created = excluded.created
            RETURNING label
            """,
            {
                "prediction": prediction_id,
                "voter": voter_id,
                "label": label,
                "confirm": CONFIRM,
                "admin": int(is_admin),
                "now": self._clock(),
            },
        )
        return rows[0]["label"] if rows else None

    async def retract(self, prediction_id: int, voter_id: str, label: str | None = None) -> bool:
        """Delete this voter's vote; True when one was deleted.

        With `label`, only a vote for that label goes (`labels.CONFIRM` meaning the prediction's top
        genre, as in `vote`), so taking back an older choice never deletes a newer one.
        """
        if label is None:
            changed = await self._change(
                "DELETE FROM votes WHERE prediction_id = ? AND voter_id = ?", (prediction_id, voter_id)
            )
        else:
            changed = await self._change(
                """
                DELETE FROM votes WHERE prediction_id = :prediction AND voter_id = :voter
                AND label = (
                    SELECT CASE WHEN :label = :confirm THEN top_genre ELSE :label END
                    FROM predictions WHERE id = :prediction
                )
                """,
                {"prediction": prediction_id, "voter": voter_id, "label": label, "confirm": CONFIRM},
            )
        return changed == 1

    async def count_votes_since(self, timestamp: float) -> int:
        """Votes cast or changed at or after `timestamp` (unix seconds)."""
        rows = await self._fetch("SELECT COUNT(*) FROM votes WHERE created >= ?", (timestamp,))
        return rows[0][0]

    # -- new genres -----------------------------------------------------------------------------

    async def approve_genre(self, name: str, approved_by: str) -> str | None:
        """Approve a genre as a new class (NEW_GENRES=admin); the name kept (the first approval's
        spelling), or None when the name cleans to nothing."""
        name = clean_label(name)
        if not genre_key(name):
            return None
        rows = await self._fetch(
            "INSERT INTO genre_approvals (genre_key, name, approved_by, approved) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (genre_key) DO UPDATE SET genre_key = genre_key RETURNING name",
            (genre_key(name), name, approved_by, self._clock()),
        )
        return rows[0]["name"]

    async def approved_genres(self) -> list[str]:
        rows = await self._fetch("SELECT name FROM genre_approvals ORDER BY approved, name")
        return [row["name"] for row in rows]

    # -- privacy and housekeeping ---------------------------------------------------------------

    async def forget_user(self, platform: str, user_id: str) -> tuple[int, int]:
        """Delete a user's votes and the predictions they asked for; (votes, predictions) deleted.

        Other people's votes on those predictions go with them (ON DELETE CASCADE) and are not counted.
        """
        async with self._transaction():
            votes = await self._conn.execute(
                "DELETE FROM votes WHERE voter_id = ? "
                "AND prediction_id IN (SELECT id FROM predictions WHERE platform = ?)",
                (user_id, platform),
            )
            predictions = await self._conn.execute(
                "DELETE FROM predictions WHERE platform = ? AND requester_id = ?", (platform, user_id)
            )
            return votes.rowcount, predictions.rowcount

    async def prune(self, older_than_days: float, keep_voted: bool = True) -> int:
        """Delete predictions older than this; the number deleted.

        Voted predictions are training data and stay unless `keep_voted` is False.
        """
        sql = "DELETE FROM predictions WHERE created < ?"
        if keep_voted:
            sql += " AND NOT EXISTS (SELECT 1 FROM votes WHERE votes.prediction_id = predictions.id)"
        return await self._change(sql, (self._clock() - older_than_days * DAY_S,))

    # -- reporting and training -----------------------------------------------------------------

    async def stats(self, model_version: str | None = None) -> Stats:
        """Counts over all predictions, or only those made by `model_version`."""
        async with self._transaction("DEFERRED"):
            counts = await self._rows(
                """
                SELECT
                    (SELECT COUNT(*) FROM predictions WHERE :mv IS NULL OR model_version = :mv),
                    COUNT(*),
                    COUNT(DISTINCT p.platform || ':' || v.voter_id)
                FROM votes v JOIN predictions p ON p.id = v.prediction_id
                WHERE :mv IS NULL OR p.model_version = :mv
                """,
                {"mv": model_version},
            )
            last = await self._rows("SELECT * FROM retrain_runs ORDER BY started DESC, id DESC LIMIT 1")
        predictions, votes, voters = counts[0]
        return Stats(predictions, votes, voters, decode_run(last[0]) if last else None)

    async def voted_covers(self) -> list[VotedCover]:
        """Every voted image with its predictions and pooled ballot, oldest cover first."""
        async with self._transaction("DEFERRED"):
            predictions = await self._rows(
                "SELECT id, image_sha256, model_version, top_genre FROM predictions p "
                "WHERE EXISTS (SELECT 1 FROM votes v WHERE v.prediction_id = p.id) ORDER BY id"
            )
            votes = await self._rows(VOTES_SQL)
        ballots = pooled_votes({row["id"]: row["image_sha256"] for row in predictions}, votes)
        covers: dict[str, VotedCover] = {}
        for row in predictions:
            sha = row["image_sha256"]
            cover = covers.setdefault(sha, VotedCover(sha, [], ballots.get(sha, [])))
            cover.predictions.append((row["model_version"], row["top_genre"]))
        return list(covers.values())
