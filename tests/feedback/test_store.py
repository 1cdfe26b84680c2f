import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from feedback import lock
from feedback.labels import CONFIRM
from feedback.migrate import Migration, load_migrations, split_statements
from feedback.records import PredictionRecord, encode_record
from feedback.store import Store, default_path
from tests.feedback.helpers import applied_migrations, get_prediction, pragma, votes_for

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


def test_the_shipped_migrations_include_the_genre_approvals() -> None:
    assert SHIPPED[0] == (1, "initial") and (3, "genre_approvals") in SHIPPED


async def test_migrations_apply_once_and_are_recorded(db_path: Path, clock: Clock):
    store = await Store.open(db_path, clock=clock)
    assert await applied_migrations(store) == SHIPPED
    assert SHIPPED[:2] == [(1, "initial"), (2, "prediction_text")]
    await store.close()

    clock.now += 60
    store = await Store.open(db_path, clock=clock)  # re-open: nothing to apply
    assert await applied_migrations(store) == SHIPPED
    await store.close()
    with sqlite3.connect(db_path) as conn:
        ledger = conn.execute("SELECT version, name, applied FROM schema_migrations").fetchall()
    assert ledger == [(v, name, T0) for v, name in SHIPPED]


async def test_later_migration_applied_on_reopen(db_path: Path, clock: Clock):
    await (await Store.open(db_path, clock=clock)).close()
    extra = Migration(NEXT, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
    store = await Store.open(db_path, clock=clock, migrations=[*load_migrations(), extra])
    assert await applied_migrations(store) == [*SHIPPED, (NEXT, "notes")]
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
    assert await pragma(store, "journal_mode") == "wal"
    assert await pragma(store, "foreign_keys") == 1
    assert await pragma(store, "synchronous") == 1  # NORMAL
    assert await pragma(store, "busy_timeout") == 5000


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
    got = await get_prediction(store, pid)

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
    assert await get_prediction(store, pid + 1) is None


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

    [vote] = await votes_for(store, pid)
    assert (vote.voter_id, vote.label, vote.is_admin, vote.created) == ("bob", "pop", True, T0 + 10)

    assert await store.retract(pid, "bob")
    assert not await store.retract(pid, "bob")
    assert await votes_for(store, pid) == []


async def test_retract_with_a_label_leaves_a_newer_vote(store: Store):
    pid = await store.record_prediction(record())
    await store.vote(pid, "bob", "jazz")
    await store.vote(pid, "bob", "pop")
    assert not await store.retract(pid, "bob", "jazz")  # an older choice taken back
    assert [v.label for v in await votes_for(store, pid)] == ["pop"]
    assert await store.retract(pid, "bob", "pop")
    assert await votes_for(store, pid) == []


async def test_retract_confirm_means_the_top_genre(store: Store):
    pid = await store.record_prediction(record())
    await store.vote(pid, "bob", CONFIRM)
    await store.vote(pid, "carol", "jazz")
    assert not await store.retract(pid, "carol", CONFIRM)
    assert await store.retract(pid, "bob", CONFIRM)
    assert [v.voter_id for v in await votes_for(store, pid)] == ["carol"]


async def test_confirm_is_stored_as_top_genre(store: Store):
    pid = await store.record_prediction(record())
    assert await store.vote(pid, "bob", CONFIRM) == "rock"
    assert [v.label for v in await votes_for(store, pid)] == ["rock"]


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

    assert await get_prediction(store, mine) is None
    assert [v.voter_id for v in await votes_for(store, theirs)] == ["bob"]
    assert [v.voter_id for v in await votes_for(store, elsewhere)] == ["alice"]
    assert await store.forget_user("discord", "alice") == (0, 0)


async def test_prune_keeps_voted_predictions_by_default(store: Store, clock: Clock):
    old_unvoted = await store.record_prediction(record())
    old_voted = await store.record_prediction(record())
    await store.vote(old_voted, "bob", "rock")
    clock.now += 30 * DAY
    recent = await store.record_prediction(record())

    assert await store.prune(older_than_days=7) == 1
    assert await get_prediction(store, old_unvoted) is None
    assert await get_prediction(store, old_voted) is not None

    assert await store.prune(older_than_days=7, keep_voted=False) == 1
    assert await get_prediction(store, old_voted) is None
    assert await get_prediction(store, recent) is not None


# -- reporting and training -------------------------------------------------------------------


async def test_voted_covers_pool_predictions_of_one_image_and_count_each_voter_once(store: Store, clock: Clock):
    first = await store.record_prediction(record(image_sha256="aa" * 32, model_version="v1"))
    again = await store.record_prediction(record(image_sha256="aa" * 32, model_version="v2",
                                                 probabilities={"jazz": 0.7, "rock": 0.3}))
    other = await store.record_prediction(record(image_sha256="bb" * 32))
    await store.record_prediction(record(image_sha256="cc" * 32))  # no votes: never feedback
    await store.vote(first, "a", "rock")
    clock.now += 1
    await store.vote(again, "a", "jazz")  # the same voter on the same image: the latest vote counts
    await store.vote(again, "b", "pop", is_admin=True)
    await store.vote(other, "a", "pop")

    covers = await store.voted_covers()
    assert [c.image_sha256 for c in covers] == ["aa" * 32, "bb" * 32]
    assert sorted((v.voter_id, v.label, v.is_admin) for v in covers[0].votes) == [
        ("a", "jazz", False), ("b", "pop", True)]
    assert covers[0].predictions == [("v1", "rock"), ("v2", "jazz")]
    assert (covers[0].top_genre_by("v1"), covers[0].top_genre_by("v2"), covers[0].top_genre_by("v3")) == (
        "rock", "jazz", None)


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

    conn = lock.connect(store.path)
    run = lock.try_start(conn, "manual", 1, T0)
    conn.close()
    assert (await store.stats()).last_retrain.id == run


# -- concurrency ------------------------------------------------------------------------------


async def test_thousand_concurrent_voters_are_stored_exactly_once(store: Store, db_path: Path):
    pid = await store.record_prediction(record())
    labels = await asyncio.gather(*(store.vote(pid, f"user{i}", "jazz") for i in range(1000)))
    assert labels == ["jazz"] * 1000
    assert len(await votes_for(store, pid)) == 1000
    assert table_count(db_path, "votes") == 1000


async def test_one_voter_voting_concurrently_leaves_one_row(store: Store):
    pid = await store.record_prediction(record())
    genres = ["rock", "jazz", "pop"]
    await asyncio.gather(*(store.vote(pid, "bob", genres[i % 3]) for i in range(1000)))
    votes = await votes_for(store, pid)
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
            covers = await asyncio.wait_for(retrainer.voted_covers(), timeout=2)
            assert [v.voter_id for v in covers[0].votes] == ["a"]
        covers = await retrainer.voted_covers()
        assert sorted(v.voter_id for v in covers[0].votes) == ["a", "b"]
    finally:
        await bot.close()
        await retrainer.close()


def test_record_needs_probabilities():
    with pytest.raises(ValueError):
        replace(record(), probabilities={}).top_genre
