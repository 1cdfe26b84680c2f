"""Retrain runs and model versions in the feedback database: the SQL of the retrain lock, in one place.

The bot's store (`bot.store`, aiosqlite) and the retrain job (`training.retrain`, stdlib sqlite3)
both take and release the lock, so its statements and its "is that run dead?" rule live here,
in `training`, which the bot may import (never the other way round). Stdlib only.

The lock: a 'running' row in `retrain_runs`; the partial unique index `one_running_retrain`
(bot/migrations/0001_initial.sql) makes SQLite itself refuse a second one. A running row whose
process is gone, or whose heartbeat is older than `STALE_AFTER_S`, is marked 'crashed' by the
next run that asks for the lock, inside the same write transaction, and the lock passes on.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

STALE_AFTER_S = 15 * 60.0
EXIT_BUSY = 3  # exit status of `python -m training retrain` when another run holds the lock (bot.retraining)
FINAL_STATUSES: frozenset[str] = frozenset({"promoted", "rejected", "failed"})
TRIGGERS: frozenset[str] = frozenset({"manual", "periodic", "cli"})

SELECT_RUNNING = "SELECT * FROM retrain_runs WHERE status = 'running'"
MARK_CRASHED = "UPDATE retrain_runs SET status = 'crashed', finished = ?, summary = ? WHERE id = ?"
INSERT_RUNNING = (
    "INSERT INTO retrain_runs (started, status, trigger, pid, heartbeat) "
    "VALUES (?, 'running', ?, ?, ?) RETURNING id"
)
HEARTBEAT = "UPDATE retrain_runs SET heartbeat = ? WHERE id = ? AND status = 'running'"
FINISH = "UPDATE retrain_runs SET status = ?, finished = ?, summary = ? WHERE id = ? AND status = 'running'"
UPSERT_MODEL_VERSION = """
INSERT INTO model_versions (version, created, metrics, promoted, path) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (version) DO UPDATE
    SET metrics = excluded.metrics, promoted = excluded.promoted, path = excluded.path
"""


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def why_dead(
    pid: int, heartbeat: float, now: float, stale_after: float, is_alive: Callable[[int], bool] = pid_alive
) -> str | None:
    """Why a 'running' run can be taken over, or None while it still holds the lock."""
    if not is_alive(pid):
        return f"process {pid} is gone"
    if now - heartbeat > stale_after:
        return f"no heartbeat for {now - heartbeat:.0f} s"
    return None


def crashed_summary(reason: str) -> str:
    return json.dumps({"recovered": reason})


def check_final(status: str) -> None:
    if status not in FINAL_STATUSES:
        raise ValueError(f"a retrain run finishes as one of {sorted(FINAL_STATUSES)}, not {status!r}")


# -- the same, for a plain sqlite3 connection in autocommit mode (isolation_level=None) ---------


def try_start(
    conn: sqlite3.Connection,
    trigger: str,
    pid: int,
    now: float,
    stale_after: float = STALE_AFTER_S,
    is_alive: Callable[[int], bool] = pid_alive,
) -> int | None:
    """Start a run and return its id, or None while another live run holds the lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for run_id, run_pid, beat in conn.execute(
            "SELECT id, pid, heartbeat FROM retrain_runs WHERE status = 'running'"
        ).fetchall():
            reason = why_dead(run_pid, beat, now, stale_after, is_alive)
            if reason is None:
                conn.execute("ROLLBACK")
                return None
            conn.execute(MARK_CRASHED, (now, crashed_summary(reason), run_id))
        run = conn.execute(INSERT_RUNNING, (now, trigger, pid, now)).fetchone()[0]
        conn.execute("COMMIT")
        return run
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def heartbeat(conn: sqlite3.Connection, run_id: int, now: float) -> bool:
    """False when the run is no longer 'running' (another process recovered it as crashed)."""
    return conn.execute(HEARTBEAT, (now, run_id)).rowcount == 1


def finish(
    conn: sqlite3.Connection, run_id: int, status: str, summary: dict[str, Any] | None, now: float
) -> bool:
    check_final(status)
    params = (status, now, None if summary is None else json.dumps(summary), run_id)
    return conn.execute(FINISH, params).rowcount == 1


def record_model_version(
    conn: sqlite3.Connection,
    version: str,
    metrics: dict[str, Any],
    path: str | None,
    promoted: bool,
    now: float,
) -> None:
    conn.execute(UPSERT_MODEL_VERSION, (version, now, json.dumps(metrics), int(promoted), path))
