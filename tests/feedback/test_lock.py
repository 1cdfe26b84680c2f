"""The retrain lock (feedback.lock): one 'running' row, recovered when its process is dead or silent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedback import lock
from feedback.store import Store, default_path
from tests.feedback.helpers import model_versions, retrain_run

T0 = 1_700_000_000.0


@pytest.fixture
async def db_path(tmp_path: Path) -> Path:
    path = default_path(tmp_path / "data")
    await (await Store.open(path)).close()
    return path


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = lock.connect(db_path)
    yield conn
    conn.close()


def test_a_second_run_is_refused_until_the_first_finishes(conn: sqlite3.Connection, db_path: Path) -> None:
    run = lock.try_start(conn, "manual", 1, T0)
    assert run is not None
    assert lock.try_start(conn, "periodic", 1, T0) is None

    assert lock.heartbeat(conn, run, T0 + 60)
    assert retrain_run(db_path, run)["heartbeat"] == T0 + 60
    assert lock.finish(conn, run, "promoted", {"top1": 0.6}, T0 + 61)
    finished = retrain_run(db_path, run)
    assert (finished["status"], finished["finished"], finished["summary"]) == ("promoted", T0 + 61, {"top1": 0.6})

    assert not lock.finish(conn, run, "failed", None, T0 + 62)
    assert lock.try_start(conn, "cli", 1, T0 + 62) is not None


def test_the_database_itself_allows_one_running_run(conn: sqlite3.Connection, db_path: Path) -> None:
    lock.try_start(conn, "manual", 1, T0)
    with sqlite3.connect(db_path) as other, pytest.raises(sqlite3.IntegrityError):
        other.execute("INSERT INTO retrain_runs (started, status, trigger, pid, heartbeat) "
                      "VALUES (0, 'running', 'cli', 2, 0)")


def test_a_stale_heartbeat_is_recovered(conn: sqlite3.Connection, db_path: Path) -> None:
    run = lock.try_start(conn, "periodic", 1, T0)  # pid 1 is always alive
    assert lock.try_start(conn, "manual", 1, T0 + 14 * 60) is None
    new = lock.try_start(conn, "manual", 1, T0 + 16 * 60)
    assert new not in (None, run)

    crashed = retrain_run(db_path, run)
    assert crashed["status"] == "crashed" and crashed["finished"] == T0 + 16 * 60
    assert "heartbeat" in crashed["summary"]["recovered"]
    assert not lock.heartbeat(conn, run, T0 + 17 * 60)  # the old process learns it lost the lock
    assert not lock.finish(conn, run, "promoted", None, T0 + 17 * 60)


def test_a_dead_process_lock_is_recovered(conn: sqlite3.Connection, db_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run = lock.try_start(conn, "cli", child.pid, T0)
    assert lock.try_start(conn, "manual", 1, T0) is not None
    assert retrain_run(db_path, run)["status"] == "crashed"


def test_the_liveness_check_is_injectable(conn: sqlite3.Connection) -> None:
    alive = {10}
    lock.try_start(conn, "cli", 10, T0, is_alive=lambda pid: pid in alive)
    assert lock.try_start(conn, "cli", 11, T0, is_alive=lambda pid: pid in alive) is None
    alive.clear()
    assert lock.try_start(conn, "cli", 11, T0, is_alive=lambda pid: pid in alive) is not None


@pytest.mark.parametrize("status", ["running", "crashed", "done"])
def test_a_run_finishes_only_with_a_final_status(conn: sqlite3.Connection, status: str) -> None:
    run = lock.try_start(conn, "manual", 1, T0)
    with pytest.raises(ValueError):
        lock.finish(conn, run, status, None, T0)


def test_an_unknown_trigger_is_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        lock.try_start(conn, "cron", 1, T0)


def test_model_versions_keep_their_first_created_time(conn: sqlite3.Connection, db_path: Path) -> None:
    lock.record_model_version(conn, "v1", {"top1": 0.5}, "models/v1", True, T0)
    lock.record_model_version(conn, "v2", {"top1": 0.55}, "models/v2", False, T0 + 10)
    lock.record_model_version(conn, "v2", {"top1": 0.56}, "models/v2", True, T0 + 20)
    assert model_versions(db_path) == [
        ("v1", T0, {"top1": 0.5}, True, "models/v1"),
        ("v2", T0 + 10, {"top1": 0.56}, True, "models/v2"),
    ]


def test_run_lock_refuses_while_held_and_finishes_in_one_transaction(db_path: Path) -> None:
    held = lock.RunLock.acquire(db_path, "manual")
    try:
        with pytest.raises(lock.RetrainBusy):
            lock.RunLock.acquire(db_path, "cli")
        held.check()
        held.finish("promoted", {"reason": "better"}, version="v9", metrics={"top1": 0.7}, path="models/v9")
    finally:
        held.close()
    assert retrain_run(db_path, held.run_id)["status"] == "promoted"
    assert [(v, p) for v, _, _, p, _ in model_versions(db_path)] == [("v9", True)]
    lock.RunLock.acquire(db_path, "cli").close()  # free again
