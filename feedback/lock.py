"""The retrain lock and the records a retrain writes: one implementation, on a stdlib sqlite3 connection.

Only the retrain job (`python -m training retrain`, in its own process) takes the lock; the bot
never does: it spawns that job and reads `retrain_runs` for /stats.

The lock is a 'running' row in `retrain_runs`; the partial unique index `one_running_retrain`
(feedback/migrations/0001_initial.sql) makes SQLite itself refuse a second one. A running row
whose process is gone, or whose heartbeat is older than `STALE_AFTER_S`, is marked 'crashed' by
the next run that asks for the lock, inside the same write transaction, and the lock passes on.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STALE_AFTER_S = 15 * 60.0
HEARTBEAT_EVERY_S = 30.0
BUSY_TIMEOUT_S = 10.0
EXIT_BUSY = 3  # exit status of `python -m training retrain` when another run holds the lock
FINAL_STATUSES: frozenset[str] = frozenset({"promoted", "rejected", "failed"})
TRIGGERS: frozenset[str] = frozenset({"manual", "periodic", "cli"})

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


class RetrainBusy(RuntimeError):
    """Another retrain holds the lock."""


class LockLost(RuntimeError):
    """Another process took this run's lock over (it judged this run dead)."""


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


def connect(db_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Read-write, never creating the file; autocommit, so every transaction is explicit."""
    uri = f"file:{urllib.parse.quote(str(Path(db_path).resolve()))}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def try_start(
    conn: sqlite3.Connection,
    trigger: str,
    pid: int,
    now: float,
    stale_after: float = STALE_AFTER_S,
    is_alive: Callable[[int], bool] = pid_alive,
) -> int | None:
    """Start a run and return its id, or None while another live run holds the lock."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {sorted(TRIGGERS)}, not {trigger!r}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for run_id, run_pid, beat in conn.execute(
            "SELECT id, pid, heartbeat FROM retrain_runs WHERE status = 'running'"
        ).fetchall():
            reason = why_dead(run_pid, beat, now, stale_after, is_alive)
            if reason is None:
                conn.execute("ROLLBACK")
                return None
            conn.execute(MARK_CRASHED, (now, json.dumps({"recovered": reason}), run_id))
        run = conn.execute(INSERT_RUNNING, (now, trigger, pid, now)).fetchone()[0]
        conn.execute("COMMIT")
        return int(run)
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
    """Close a running run; False if it was not running any more."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"a retrain run finishes as one of {sorted(FINAL_STATUSES)}, not {status!r}")
    params = (status, now, None if summary is None else json.dumps(summary), run_id)
    return conn.execute(FINISH, params).rowcount == 1


def record_model_version(
    conn: sqlite3.Connection, version: str, metrics: dict[str, Any], path: str | None, promoted: bool, now: float
) -> None:
    """Insert or update a model version; its `created` time is kept from the first record."""
    conn.execute(UPSERT_MODEL_VERSION, (version, now, json.dumps(metrics), int(promoted), path))


class RunLock:
    """This process's 'running' row in retrain_runs, kept alive by a heartbeat thread."""

    def __init__(self, conn: sqlite3.Connection, run_id: int, heartbeat_every: float = HEARTBEAT_EVERY_S):
        self.run_id = run_id
        self._conn = conn
        self._db_lock = threading.Lock()  # one connection, used by the heartbeat thread too
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._finished = False
        self._every = heartbeat_every
        self._thread = threading.Thread(target=self._beat, name=f"retrain-heartbeat-{run_id}", daemon=True)
        self._thread.start()

    @classmethod
    def acquire(cls, db_path: str | os.PathLike[str], trigger: str) -> RunLock:
        """Raises RetrainBusy while another live run holds the lock, sqlite3.Error for a foreign file."""
        conn = connect(db_path)
        try:
            run_id = try_start(conn, trigger, os.getpid(), time.time())
            if run_id is None:
                holder = conn.execute("SELECT id, pid FROM retrain_runs WHERE status = 'running'").fetchone()
                who = f"run {holder[0]}, process {holder[1]}" if holder else "another run"
                raise RetrainBusy(f"another retrain is running ({who}); try again when it has finished")
        except BaseException:
            conn.close()
            raise
        return cls(conn, run_id)

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._db_lock:
                    alive = heartbeat(self._conn, self.run_id, time.time())
            except sqlite3.Error as exc:
                log.warning("retrain heartbeat failed: %s", exc)
                continue
            if not alive:
                self._lost.set()
                return

    def check(self) -> None:
        """Raise LockLost if another process has taken over (call before switching anything)."""
        with self._db_lock:
            status = self._conn.execute("SELECT status FROM retrain_runs WHERE id = ?", (self.run_id,)).fetchone()
        if self._lost.is_set() or status is None or status[0] != "running":
            raise LockLost(f"retrain run {self.run_id} lost its lock (marked {status[0] if status else 'gone'})")

    def version_names(self) -> set[str]:
        with self._db_lock:
            return {row[0] for row in self._conn.execute("SELECT version FROM model_versions")}

    def is_recorded_promoted(self, version: str) -> bool:
        with self._db_lock:
            row = self._conn.execute("SELECT promoted FROM model_versions WHERE version = ?", (version,)).fetchone()
        return row is not None and row[0] == 1

    def record_model_version(self, version: str, metrics: dict[str, Any], path: str | None, promoted: bool) -> None:
        with self._db_lock:
            record_model_version(self._conn, version, metrics, path, promoted, time.time())

    def finish(self, status: str, summary: dict[str, Any], version: str | None = None,
               metrics: dict[str, Any] | None = None, path: str | None = None) -> None:
        """Record the challenger's version (if any) and close the run, in one transaction."""
        now = time.time()
        with self._db_lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if version is not None:
                    record_model_version(self._conn, version, metrics or {}, path, status == "promoted", now)
                if not finish(self._conn, self.run_id, status, summary, now):
                    raise LockLost(f"retrain run {self.run_id} was no longer running when it finished")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        self._finished = True

    def fail(self, exc: BaseException) -> None:
        if self._finished:
            return
        summary = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        try:
            with self._db_lock:
                finish(self._conn, self.run_id, "failed", summary, time.time())
        except sqlite3.Error as db_exc:
            log.warning("could not mark retrain run %s failed: %s", self.run_id, db_exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._db_lock:
            self._conn.close()
