import asyncio
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.store import PredictionRecord, Store, default_path
from bot.store.migrate import Migration, load_migrations, split_statements
from bot.store.records import encode_record
from training.labels import CONFIRM

T0 = 1_700_000_000.0
DAY = 86_400.0
SHIPPED = [(m.version, m.name) for m in load_migrations()]
NEXT = SHIPPED[-1][0] + 1  # a version no shipped migration uses


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return default_path(tmp_path / "data")


@pytest.fixture
async def store(db_path: Path, clock: Clock):
    store = await Store.open(db_path, clock=clock)
    yield store
    await store.close()


def record(**overrides) -> PredictionRecord:
    values = dict(
        platform="discord",
        source_kind="upload",
        source_ref="attachment://cover.png",
        image_sha256="ab" * 32,
        model_version="v1",
        probabilities={"rock": 0.6, "jazz": 0.3, "pop": 0.1},
        popularity=42.5,
        tags=[("guitar", 0.9), ("night", 0.4)],
        features=np.linspace(-2, 2, 16, dtype=np.float32),
        server_id="guild",
        channel_id="chan",
        requester_id="alice",
    )
    return PredictionRecord(**(values | overrides))


def table_count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# -- opening and migrations -------------------------------------------------------------------


async def test_migrations_apply_once_and_are_recorded(db_path: Path, clock: Clock):
    store = await Store.open(db_path, clock=clock)
    assert await store.applied_migrations() == SHIPPED
    assert SHIPPED[:2] == [(1, "initial"), (2, "prediction_text")]
    await store.close()

    clock.now += 60
    store = await Store.open(db_path, clock=clock)  # re-open: nothing to apply
    assert await store.applied_migrations() == SHIPPED
    await store.close()
    with sqlite3.connect(db_path) as conn:
        ledger = conn.execute("SELECT version, name, applied FROM schema_migrations").fetchall()
    assert ledger == [(v, n, T0) for v, n in SHIPPED]


async def test_later_migration_applied_on_reopen(db_path: Path, clock: Clock):
    await (await Store.open(db_path, clock=clock)).close()
    extra = Migration(NEXT, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
    store = await Store.open(db_path, clock=clock, migrations=[*load_migrations(), extra])
    assert await store.applied_migrations() == [*SHIPPED, (NEXT, "notes")]
    await store.close()
    assert table_count(db_path, "notes") == 0


async def test_failed_migration_rolls_back_and_is_not_recorded(db_path: Path, clock: Clock):
    broken = Migration(NEXT, "broken", "CREATE TABLE half (id INTEGER);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        await Store.open(db_path, clock=clock, migrations=[*load_migrations(), broken])
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(v,) for v, _ in SHIPPED]
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half'").fetchall()


async def test_an_old_database_gains_read_text_and_keeps_its_rows(db_path: Path, clock: Clock):
    initial = [m for m in load_migrations() if m.version == 1]
    await (await Store.open(db_path, clock=clock, migrations=initial)).close()
    values = {k: v for k, v in encode_record(record()).items() if k != "read_text"} | {"created": T0}
    with sqlite3.connect(db_path) as conn:  # a row written by a version that did not read covers
        assert "read_text" not in {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
        old_id = conn.execute(f"INSERT INTO predictions ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                              list(values.values())).lastrowid

    store = await Store.open(db_path, clock=clock)
    new_id = await store.record_prediction(record(image_sha256="cd" * 32, read_text="GREATEST HITS"))
    await store.close()
    with sqlite3.connect(db_path) as conn:
        rows = dict(conn.execute("SELECT id, read_text FROM predictions").fetchall())
    assert rows == {old_id: None, new_id: "GREATEST HITS"}


async def test_pragmas(store: Store):
    assert await store.pragma("journal_mode") == "wal"
    assert await store.pragma("foreign_keys") == 1
    assert await store.pragma("synchronous") == 1  # NORMAL
    assert await store.pragma("busy_timeout") == 5000


def test_split_statements_keeps_semicolons_in_strings_comments_and_triggers():
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'c'; DELETE FROM t WHERE 0; END;
    -- trailing comment
    """
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_split_statements_rejects_an_unfinished_statement():
    with pytest.raises(ValueError):
        split_statements("CREATE TABLE t (x);\nCREATE TABLE u (y)")


# -- predictions ------------------------------------------------------------------------------


async def test_prediction_round_trip(store: Store):
    rec = record()
    pid = await store.record_prediction(rec)
    got = await store.get_prediction(pid)

    assert got is not None
    assert (got.id, got.created, got.platform, got.top_genre) == (pid, T0, "discord", "rock")
    ids = (got.server_id, got.channel_id, got.requester_id, got.message_id)
    assert ids == ("guild", "chan", "alice", None)
    assert (got.source_kind, got.source_ref, got.image_sha256, got.model_version) == (
        rec.source_kind, rec.source_ref, rec.image_sha256, rec.model_version,
    )
    assert got.probabilities == rec.probabilities
    assert got.popularity == rec.popularity
    assert got.tags == rec.tags
    assert got.features.dtype == np.float32
    np.testing.assert_array_equal(got.features, rec.features.astype(np.float16).astype(np.float32))
    assert await store.get_prediction(pid + 1) is None


async def test_features_blob_is_float16_little_endian(store: Store, db_path: Path):
    features = np.array([1.0, -0.5, 65504.0], dtype=np.float32)
    await store.record_prediction(record(features=features))
    with sqlite3.connect(db_path) as conn:
        blob = conn.execute("SELECT features FROM predictions").fetchone()[0]
    assert blob == features.astype("<f2").tobytes()
    assert len(blob) == 2 * features.size


async def test_message_id_lookup_is_per_platform(store: Store):
    pid = await store.record_prediction(record())
    assert await store.prediction_by_message("discord", "m1") is None
    assert await store.set_message_id(pid, "m1")
    assert (await store.prediction_by_message("discord", "m1")).id == pid
    assert await store.prediction_by_message("telegram", "m1") is None
    assert not await store.set_message_id(pid + 1, "m2")


async def test_schema_rejects_unknown_platform(store: Store):
    with pytest.raises(sqlite3.IntegrityError):
        await store.record_prediction(record(platform="irc"))


# -- votes ------------------------------------------------------------------------------------


async def test_vote_latest_wins_and_retract(store: Store, clock: Clock):
    pid = await store.record_prediction(record())
    assert await store.vote(pid, "bob", "jazz") == "jazz"
    clock.now += 10
    assert await store.vote(pid, "bob", "pop", is_admin=True) == "pop"

    [vote] = await store.votes_for(pid)
    assert (vote.voter_id, vote.label, vote.is_admin, vote.created) == ("bob", "pop", True, T0 + 10)

    assert await store.retract(pid, "bob")
    assert not await store.retract(pid, "bob")
    assert await store.votes_for(pid) == []


async def test_retract_with_a_label_leaves_a_newer_vote(store: Store):
    pid = await store.record_prediction(record())
    await store.vote(pid, "bob", "jazz")
    await store.vote(pid, "bob", "pop")
    assert not await store.retract(pid, "bob", "jazz")  # an older choice taken back
    assert [v.label for v in await store.votes_for(pid)] == ["pop"]
    assert await store.retract(pid, "bob", "pop")
    assert await store.votes_for(pid) == []


async def test_retract_confirm_means_the_top_genre(store: Store):
    pid = await store.record_prediction(record())
    await store.vote(pid, "bob", CONFIRM)
    await store.vote(pid, "carol", "jazz")
    assert not await store.retract(pid, "carol", CONFIRM)
    assert await store.retract(pid, "bob", CONFIRM)
    assert [v.voter_id for v in await store.votes_for(pid)] == ["carol"]


async def test_confirm_is_stored_as_top_genre(store: Store):
    pid = await store.record_prediction(record())
    assert await store.vote(pid, "bob", CONFIRM) == "rock"
    assert [v.label for v in await store.votes_for(pid)] == ["rock"]


async def test_vote_on_missing_prediction_is_ignored(store: Store):
    assert await store.vote(12345, "bob", "jazz") is None


async def test_count_votes_since(store: Store, clock: Clock):
    pid = await store.record_prediction(record())
    await store.vote(pid, "a", "rock")
    clock.now += 100
    await store.vote(pid, "b", "rock")
    assert await store.count_votes_since(T0) == 2
    assert await store.count_votes_since(T0 + 50) == 1
    clock.now += 100
    await store.vote(pid, "a", "jazz")  # a changed vote counts as new
    assert await store.count_votes_since(T0 + 50) == 2


# -- privacy and housekeeping -----------------------------------------------------------------


async def test_forget_user(store: Store):
    mine = await store.record_prediction(record(requester_id="alice"))
    theirs = await store.record_prediction(record(requester_id="bob"))
    elsewhere = await store.record_prediction(record(platform="telegram", requester_id="alice"))
    await store.vote(mine, "bob", "jazz")  # cascades with alice's prediction, not counted
    await store.vote(mine, "alice", "rock")
    await store.vote(theirs, "alice", "pop")
    await store.vote(theirs, "bob", "pop")
    await store.vote(elsewhere, "alice", "pop")  # same id on another platform: another person

    assert await store.forget_user("discord", "alice") == (2, 1)

    assert await store.get_prediction(mine) is None
    assert [v.voter_id for v in await store.votes_for(theirs)] == ["bob"]
    assert [v.voter_id for v in await store.votes_for(elsewhere)] == ["alice"]
    assert await store.forget_user("discord", "alice") == (0, 0)


async def test_prune_keeps_voted_predictions_by_default(store: Store, clock: Clock):
    old_unvoted = await store.record_prediction(record())
    old_voted = await store.record_prediction(record())
    await store.vote(old_voted, "bob", "rock")
    clock.now += 30 * DAY
    recent = await store.record_prediction(record())

    assert await store.prune(older_than_days=7) == 1
    assert await store.get_prediction(old_unvoted) is None
    assert await store.get_prediction(old_voted) is not None

    assert await store.prune(older_than_days=7, keep_voted=False) == 1
    assert await store.get_prediction(old_voted) is None
    assert await store.get_prediction(recent) is not None


# -- reporting and training -------------------------------------------------------------------


async def test_feedback_rows_include_or_exclude_spotify(store: Store):
    upload = await store.record_prediction(record(source_kind="upload"))
    spotify = await store.record_prediction(record(source_kind="spotify", source_ref="spotify:album:x"))
    await store.record_prediction(record())  # no votes: never feedback
    await store.vote(upload, "a", "jazz")
    await store.vote(upload, "b", "rock", is_admin=True)
    await store.vote(spotify, "a", "pop")

    rows = await store.feedback_rows(include_spotify=True)
    assert [r.prediction_id for r in rows] == [upload, spotify]
    ballot = [(v.voter_id, v.label, v.is_admin) for v in rows[0].votes]
    assert ballot == [("a", "jazz", False), ("b", "rock", True)]
    assert rows[0].features.shape == (16,) and rows[0].top_genre == "rock"

    rows = await store.feedback_rows(include_spotify=False)
    assert [r.prediction_id for r in rows] == [upload]


async def test_stats(store: Store):
    p1 = await store.record_prediction(record(model_version="v1"))
    p2 = await store.record_prediction(record(model_version="v2"))
    await store.record_prediction(record(model_version="v2", platform="telegram"))
    await store.vote(p1, "a", "rock")
    await store.vote(p1, "b", "rock")
    await store.vote(p2, "a", "jazz")

    stats = await store.stats()
    assert (stats.predictions, stats.votes, stats.voters, stats.last_retrain) == (3, 3, 2, None)
    stats = await store.stats(model_version="v2")
    assert (stats.predictions, stats.votes, stats.voters) == (2, 1, 1)

    run = await store.try_start_retrain("manual", pid=1)
    assert (await store.stats()).last_retrain.id == run


async def test_model_versions(store: Store, clock: Clock):
    await store.record_model_version("v1", {"top1": 0.5}, path="models/v1", promoted=True)
    clock.now += 10
    await store.record_model_version("v2", {"top1": 0.55}, path="models/v2")
    clock.now += 10
    await store.record_model_version("v2", {"top1": 0.56}, path="models/v2", promoted=True)

    versions = await store.list_model_versions()
    assert [(v.version, v.created, v.metrics, v.promoted, v.path) for v in versions] == [
        ("v1", T0, {"top1": 0.5}, True, "models/v1"),
        ("v2", T0 + 10, {"top1": 0.56}, True, "models/v2"),
    ]


# -- concurrency ------------------------------------------------------------------------------


async def test_thousand_concurrent_voters_are_stored_exactly_once(store: Store, db_path: Path):
    pid = await store.record_prediction(record())
    labels = await asyncio.gather(*(store.vote(pid, f"user{i}", "jazz") for i in range(1000)))
    assert labels == ["jazz"] * 1000
    assert len(await store.votes_for(pid)) == 1000
    assert table_count(db_path, "votes") == 1000


async def test_one_voter_voting_concurrently_leaves_one_row(store: Store):
    pid = await store.record_prediction(record())
    genres = ["rock", "jazz", "pop"]
    await asyncio.gather(*(store.vote(pid, "bob", genres[i % 3]) for i in range(1000)))
    votes = await store.votes_for(pid)
    assert len(votes) == 1 and votes[0].label in genres


async def test_concurrent_transactions_do_not_interleave(store: Store):
    pids = [await store.record_prediction(record(requester_id=f"u{i}")) for i in range(50)]
    votes = [store.vote(pid, f"u{i}", "pop") for i, pid in enumerate(pids)]
    forgets = [store.forget_user("discord", f"u{i}") for i in range(50)]
    results = await asyncio.gather(*(x for pair in zip(votes, forgets) for x in pair))
    assert results[1::2] == [(1, 1)] * 50
    assert (await store.stats()).predictions == 0


async def test_second_store_reads_while_first_writes(db_path: Path, clock: Clock):
    bot = await Store.open(db_path, clock=clock)
    retrainer = await Store.open(db_path, clock=clock)
    try:
        pid = await bot.record_prediction(record())
        await bot.vote(pid, "a", "jazz")
        async with bot._transaction():  # the bot is mid-write: WAL still lets others read
            await bot._conn.execute("INSERT INTO votes VALUES (?, 'b', 'pop', 0, 0)", (pid,))
            rows = await asyncio.wait_for(retrainer.feedback_rows(include_spotify=True), timeout=2)
            assert [v.voter_id for v in rows[0].votes] == ["a"]
        rows = await retrainer.feedback_rows(include_spotify=True)
        assert sorted(v.voter_id for v in rows[0].votes) == ["a", "b"]
    finally:
        await bot.close()
        await retrainer.close()


# -- retrain lock -----------------------------------------------------------------------------


async def test_retrain_lock_refuses_a_second_run(store: Store, clock: Clock):
    run = await store.try_start_retrain("manual", pid=1)
    assert run is not None
    assert await store.try_start_retrain("periodic", pid=1) is None

    clock.now += 60
    assert await store.heartbeat(run)
    assert (await store.get_retrain_run(run)).heartbeat == T0 + 60
    assert await store.finish_retrain(run, "promoted", {"top1": 0.6})
    finished = await store.get_retrain_run(run)
    assert (finished.status, finished.finished, finished.summary) == ("promoted", T0 + 60, {"top1": 0.6})

    assert not await store.finish_retrain(run, "failed")
    assert await store.try_start_retrain("cli", pid=1) is not None


async def test_database_allows_one_running_run(store: Store, db_path: Path):
    await store.try_start_retrain("manual", pid=1)
    with sqlite3.connect(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO retrain_runs (started, status, trigger, pid, heartbeat) "
            "VALUES (0, 'running', 'cli', 2, 0)"
        )


async def test_stale_heartbeat_is_recovered(store: Store, clock: Clock):
    run = await store.try_start_retrain("periodic", pid=1)  # pid 1 is always alive
    clock.now += 14 * 60
    assert await store.try_start_retrain("manual", pid=1) is None
    clock.now += 2 * 60
    new = await store.try_start_retrain("manual", pid=1)
    assert new not in (None, run)

    crashed = await store.get_retrain_run(run)
    assert crashed.status == "crashed" and crashed.finished == T0 + 16 * 60
    assert "heartbeat" in crashed.summary["recovered"]
    assert not await store.heartbeat(run)  # the old process learns it lost the lock
    assert not await store.finish_retrain(run, "promoted")


async def test_dead_process_lock_is_recovered(store: Store):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    run = await store.try_start_retrain("cli", pid=child.pid)
    new = await store.try_start_retrain("manual", pid=1)
    assert new is not None
    assert (await store.get_retrain_run(run)).status == "crashed"


async def test_dead_process_check_is_injectable(db_path: Path, clock: Clock):
    alive = {10}
    store = await Store.open(db_path, clock=clock, is_alive=lambda pid: pid in alive)
    try:
        await store.try_start_retrain("cli", pid=10)
        assert await store.try_start_retrain("cli", pid=11) is None
        alive.clear()
        assert await store.try_start_retrain("cli", pid=11) is not None
    finally:
        await store.close()


async def test_finish_retrain_rejects_non_final_status(store: Store):
    run = await store.try_start_retrain("manual", pid=1)
    with pytest.raises(ValueError):
        await store.finish_retrain(run, "running")


def test_record_needs_probabilities():
    with pytest.raises(ValueError):
        replace(record(), probabilities={}).top_genre
