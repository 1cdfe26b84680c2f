"""Votes → training rows, read from a database the bot's own store wrote."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from feedback.reader import is_held_out, load_feedback
from feedback.store import Store
from tests.training.conftest import Item, fake_sha, fill_db

GENRES = ["Country", "Electronic", "HipHop", "Pop", "Rock"]
DIM = 24


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=DIM).astype(np.float32)


def item(seed: int, *votes: tuple[str, str, bool] | str, held_out: bool = False, **kw) -> Item:
    ballots = [v if isinstance(v, tuple) else (f"voter{i}", v, False) for i, v in enumerate(votes)]
    return Item(vec(seed), ballots, sha=kw.pop("sha", None) or fake_sha(seed, held_out), **kw)


def load(db: Path, **kw):
    return load_feedback(db, GENRES, DIM, **kw)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sleeve.db"


def test_labels_follow_the_votes(db):
    fill_db(db, [
        item(1, "Rock"),
        item(2, "Rock", "Pop", "Rock"),
        item(3, "Rock", "Pop"),  # a tie: no label
        item(4, ("a", "Pop", False), ("b", "Pop", False), ("boss", "Rock", True)),
        item(5),  # no votes: not feedback at all
    ])
    fb = load(db)
    assert fb.train.label_sets == [frozenset({"Rock"}), frozenset({"Rock"}), frozenset({"Pop"})]
    assert (fb.counts.voted_covers, fb.counts.labelled, fb.counts.unlabelled) == (4, 3, 1)
    assert load(db, admin_weight=3.0).train.label_sets[2] == frozenset({"Rock"})  # the admin outweighs two
    assert load(db, min_votes=2).counts.labelled == 2  # only covers with two or more votes


def test_features_come_back_as_float32_from_float16(db):
    fill_db(db, [item(1, "Rock")])
    fb = load(db)
    assert fb.train.vectors.dtype == np.float32 and fb.train.vectors.shape == (1, DIM)
    np.testing.assert_allclose(fb.train.vectors[0], vec(1), atol=1e-2, rtol=1e-3)


def test_unknown_genres_are_suggestions_not_labels(db):
    fill_db(db, [item(1, "Polka"), item(2, "Polka", "Rock"), item(3, "Vaporwave", "Polka")])
    fb = load(db)
    assert fb.train.label_sets == [frozenset({"Rock"})]  # Polka does not count against Rock
    assert fb.counts.suggestions == {"Polka": 3, "Vaporwave": 1} and fb.counts.suggestion_votes == 4  # covers
    assert fb.counts.unlabelled == 2


def test_spotify_covers_are_left_out_unless_opted_in(db):
    same_pixels = fake_sha("shared", False)
    fill_db(db, [
        item(1, "Rock", source_kind="spotify"),
        item(2, "Pop", source_kind="url"),
        item(3, "Country", source_kind="upload", sha=same_pixels),
        item(4, "Country", source_kind="spotify", sha=same_pixels),  # the same cover, once via Spotify
    ])
    fb = load(db)
    assert fb.train.label_sets == [frozenset({"Pop"})]
    assert fb.counts.spotify_excluded == 2
    opted_in = load(db, include_spotify=True)
    assert len(opted_in.train) == 3 and opted_in.counts.spotify_excluded == 0


def test_a_cover_once_judged_from_spotify_stays_out_even_if_that_prediction_had_no_votes(db):
    """Judged from a Spotify link (nobody voted), then uploaded and voted on: the pixels are Spotify's."""
    same_pixels = fake_sha("spotify-first", False)
    fill_db(db, [
        item(1, source_kind="spotify", sha=same_pixels),  # no votes
        item(2, "Rock", source_kind="upload", sha=same_pixels),
        item(3, "Pop", source_kind="upload"),
    ])
    fb = load(db)
    assert fb.train.label_sets == [frozenset({"Pop"})]
    assert fb.counts.spotify_excluded == 1 and fb.counts.voted_covers == 2
    assert len(load(db, include_spotify=True).train) == 2


def test_one_cover_one_row_each_voter_once(db):
    sha = fake_sha("dup", False)
    fill_db(db, [
        item(1, ("ann", "Rock", False), sha=sha),
        item(1, ("ann", "Pop", False), ("bob", "Pop", False), sha=sha),  # posted again; ann changed her mind
    ])
    fb = load(db)
    assert len(fb.train) == 1 and fb.train.label_sets == [frozenset({"Pop"})]
    assert fb.train.prediction_ids == [2]  # the newest prediction's features and tags


def test_vectors_of_another_length_are_skipped(db):
    fill_db(db, [item(1, "Rock"), Item(np.ones(DIM + 1, np.float32), [("v", "Rock", False)], sha=fake_sha(9))])
    fb = load(db)
    assert (len(fb.train), fb.counts.wrong_dimension) == (1, 1)


def test_held_out_slice_is_about_a_fifth_and_stable():
    shas = [fake_sha(i) for i in range(4000)]
    held = [is_held_out(sha) for sha in shas]
    assert 0.18 < np.mean(held) < 0.22
    assert held == [is_held_out(sha) for sha in shas]  # same on every run
    assert is_held_out(shas[0], share=0.0) is False and is_held_out(shas[0], share=1.0) is True


def test_split_does_not_depend_on_what_else_is_in_the_database(db, tmp_path):
    items = [item(i, "Rock", sha=fake_sha(("x", i))) for i in range(60)]
    fill_db(db, items)
    first = load(db)
    other = tmp_path / "other.db"
    fill_db(other, list(reversed(items[20:])) + [item(99, "Pop")])
    second = load(other)
    held_first = set(first.held_out.image_sha256)
    assert held_first and len(first.train)
    in_both = {i.sha for i in items[20:]}
    assert set(second.held_out.image_sha256) == held_first & in_both
    assert first.fingerprint != second.fingerprint and first.fingerprint == load(db).fingerprint


def test_tags_come_along(db):
    fill_db(db, [item(1, "Rock", tags=[("guitar", 0.9), ("night", 0.6)])])
    assert load(db).train.tags == [{"guitar": 0.9, "night": 0.6}]


def test_read_text_comes_along(db):
    fill_db(db, [item(1, "Rock", text="LIVE AT LEEDS"), item(2, "Pop")])
    assert load(db).train.texts == ["LIVE AT LEEDS", ""]


def test_a_database_from_before_reading_still_trains_image_only(db):
    fill_db(db, [item(1, "Rock", text="LIVE AT LEEDS")])
    with sqlite3.connect(db) as conn:  # as if migration 0002 had never run
        conn.execute("ALTER TABLE predictions DROP COLUMN read_text")
    fb = load(db)
    assert fb.train.texts == [""] and fb.train.label_sets == [frozenset({"Rock"})]


def test_read_only_and_never_creates_a_database(db, tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    fill_db(db, [item(1, "Rock")])
    from feedback.reader import connect_read_only

    conn = connect_read_only(db)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM votes")
    conn.close()


def test_reads_while_the_bot_holds_a_write_transaction(db):
    fill_db(db, [item(1, "Rock")])

    async def scenario():
        async with await Store.open(db) as bot:
            await bot._conn.execute("BEGIN IMMEDIATE")  # the bot mid-write
            await bot._conn.execute("DELETE FROM votes")
            fb = await asyncio.to_thread(load, db)  # WAL: the reader sees the last commit, unblocked
            await bot._conn.execute("ROLLBACK")
            return fb

    assert asyncio.run(scenario()).counts.labelled == 1
