"""Retraining end to end: real Store-made databases, the committed base features (a small slice of
them for speed, see conftest), and the model registry on disk."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from feedback import lock
from feedback.store import Store
from models import artifact as artifacts
from models.registry import ModelRegistry, registry_root
from tests.training.conftest import (
    CHAMPION,
    SPEC,
    Item,
    db_of,
    fake_sha,
    fill_db,
    noisy_copies,
    rotated_labels,
)
from training import retrain as retrain_module
from training.result import Origin, RetrainResult
from training.retrain import CHECKPOINTS, CRASH_ENV, RetrainBusy, retrain

ROOT = Path(__file__).resolve().parents[2]
# alpha=0 makes no difference significant: every challenger is promoted (tests of the write path).
ALWAYS = 0.0


def agreeing_feedback(base, unused_base_rows, n: int = 600, held_out: int = 200, seed: int = 1) -> list[Item]:
    """New covers labelled with their real genre; a third seen again in the held-out slice."""
    rows = np.random.default_rng(seed).choice(unused_base_rows, n, replace=False)
    return (noisy_copies(base, rows, held_out=False, seed=seed)
            + noisy_copies(base, rows[:held_out], held_out=True, seed=seed + 1000))


def served(data_dir: Path) -> tuple[Path, artifacts.Artifact]:
    registry = ModelRegistry(registry_root(data_dir))
    path = registry.current_dir(SPEC)
    return path, artifacts.load(path, SPEC)


def db_rows(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training", "retrain", "--no-progress", *args],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=240,
    )


def test_promotes_when_feedback_agrees(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, agreeing_feedback(base, unused_base_rows))

    result = retrain(db, data_dir, base_features=small_base_path, progress=False)

    assert result.status == "promoted", result.reason
    assert result.counts.feedback_train == 600 and result.counts.feedback_held_out == 200
    assert result.counts.base_train == 500 and result.counts.base_validation == 300
    held = result.feedback_held_out
    assert held.challenger.top1 > held.champion.top1
    assert result.paired.verdict != "worse" and result.paired.n == 300 + 200
    assert result.paired.low <= result.paired.difference <= result.paired.high

    path, artifact = served(data_dir)
    assert path.name == result.version == artifact.version
    assert artifact.manifest["retrain"]["parent"] == CHAMPION
    assert artifact.manifest["data"]["feedback"]["feedback_train"] == 600
    assert set(artifact.distinctive) == set(artifact.genres)
    versions = db_rows(db, "SELECT version, promoted, path FROM model_versions ORDER BY created")
    assert (result.version, 1, str(path)) in versions
    run = db_rows(db, "SELECT status, trigger, summary FROM retrain_runs")
    assert [(s, t) for s, t, _ in run] == [("promoted", "cli")]
    assert json.loads(run[0][2])["version"] == result.version


def test_not_promoted_when_feedback_disagrees_with_the_base_set(data_dir, small_base_path, small_base):
    """Feedback that relabels the base set's own covers with wrong genres must not be served."""
    db = db_of(data_dir)
    rows = np.arange(300)  # training rows of the small slice
    wrong = rotated_labels(small_base, rows)
    fill_db(db, noisy_copies(small_base, rows, wrong, held_out=False)
            + noisy_copies(small_base, rows[:60], wrong, held_out=True, seed=5))

    result = retrain(db, data_dir, base_features=small_base_path, progress=False)

    assert result.status == "rejected" and not result.promoted
    assert "significantly worse (base validation)" in result.reason
    assert result.base_validation.challenger.top1 < result.base_validation.champion.top1
    path, artifact = served(data_dir)
    assert artifact.version == CHAMPION
    assert [p.name for p in registry_root(data_dir).iterdir() if p.is_dir()] == [CHAMPION]  # nothing written
    assert db_rows(db, "SELECT promoted, path FROM model_versions WHERE version = ?", (result.version,)) == [(0, None)]
    assert db_rows(db, "SELECT status FROM retrain_runs") == [("rejected",)]


def test_origin_floor_is_carried_from_the_champion(data_dir, small_base_path, base, unused_base_rows):
    """The origin recorded in a retrained champion bounds the next challenger, whatever the champion scores."""
    db = db_of(data_dir)
    fill_db(db, agreeing_feedback(base, unused_base_rows))
    manifest_path = registry_root(data_dir) / CHAMPION / artifacts.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["retrain"] = {"parent": "v20190101-000000", "origin": {"version": "v-old", "base_validation_top1": 0.99}}
    manifest_path.write_text(json.dumps(manifest))

    result = retrain(db, data_dir, base_features=small_base_path, progress=False)

    assert result.status == "rejected" and "significantly below the original model v-old" in result.reason
    assert result.origin == Origin("v-old", 0.99)
    assert served(data_dir)[1].version == CHAMPION


def test_origin_is_recorded_and_a_shipped_origin_is_re_evaluated(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, noisy_copies(base, unused_base_rows[:30], held_out=False))
    first = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False)
    assert first.status == "promoted" and first.origin.version == CHAMPION  # a hand-made champion: its own origin
    assert served(data_dir)[1].manifest["retrain"]["origin"] == asdict(first.origin)

    path = served(data_dir)[0] / artifacts.MANIFEST  # pretend the lineage started from the shipped model
    manifest = json.loads(path.read_text())
    shipped_version = artifacts.read_manifest(artifacts.SHIPPED_DIR)["version"]
    manifest["retrain"]["origin"] = {"version": shipped_version, "base_validation_top1": 0.0}
    path.write_text(json.dumps(manifest))
    fill_db(db, noisy_copies(base, unused_base_rows[30:40], held_out=False, seed=3))
    second = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False)
    assert second.origin.version == shipped_version and second.origin.base_validation_top1 > 0.2


def test_no_new_feedback_writes_nothing(data_dir, small_base_path, base, unused_base_rows):
    """A second retrain on the same votes would only write a duplicate of the served model."""
    db = db_of(data_dir)
    fill_db(db, noisy_copies(base, unused_base_rows[:30], held_out=False))
    first = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False)
    assert first.status == "promoted"
    models = registry_root(data_dir)
    before = sorted(p.relative_to(models) for p in models.rglob("*"))
    versions_before = db_rows(db, "SELECT * FROM model_versions ORDER BY version")

    second = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False)

    assert second.status == "rejected" and not second.promoted and second.version is None
    assert "no new feedback since the served model" in second.reason and second.paired is None
    assert sorted(p.relative_to(models) for p in models.rglob("*")) == before
    assert served(data_dir)[1].version == first.version
    assert db_rows(db, "SELECT * FROM model_versions ORDER BY version") == versions_before
    assert db_rows(db, "SELECT status FROM retrain_runs ORDER BY id") == [("promoted",), ("rejected",)]

    fill_db(db, noisy_copies(base, unused_base_rows[30:35], held_out=False, seed=4))  # a new vote: fits again
    assert retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False).status == "promoted"


def test_spotify_rows_are_excluded_by_default(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    rows = unused_base_rows[:40]
    fill_db(db, noisy_copies(base, rows[:30], held_out=False)
            + noisy_copies(base, rows[30:], held_out=False, seed=9, source_kind="spotify"))

    default = retrain(db, data_dir, base_features=small_base_path, dry_run=True, progress=False)
    opted_in = retrain(db, data_dir, base_features=small_base_path, dry_run=True, include_spotify=True,
                       progress=False)

    assert (default.counts.feedback_train, default.counts.spotify_excluded) == (30, 10)
    assert (opted_in.counts.feedback_train, opted_in.counts.spotify_excluded) == (40, 0)


def test_dry_run_writes_nothing(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, agreeing_feedback(base, unused_base_rows, n=60, held_out=20))
    models = registry_root(data_dir)
    before_files = sorted((p.relative_to(models), p.stat().st_mtime_ns) for p in models.rglob("*"))
    tables = ("predictions", "votes", "model_versions", "retrain_runs")
    before_db = {t: db_rows(db, f"SELECT * FROM {t}") for t in tables}

    result = retrain(db, data_dir, base_features=small_base_path, dry_run=True, alpha=ALWAYS, progress=False)

    assert result.dry_run and result.status == "dry_run" and result.promoted and result.version is None
    assert result.run_id is None and result.base_validation.challenger.n == 300
    assert sorted((p.relative_to(models), p.stat().st_mtime_ns) for p in models.rglob("*")) == before_files
    assert {t: db_rows(db, f"SELECT * FROM {t}") for t in before_db} == before_db


def test_no_labelled_feedback_fits_nothing(data_dir, small_base_path, base):
    db = db_of(data_dir)
    fill_db(db, [Item(base.vectors[0], [("a", "Rock", False), ("b", "Pop", False)], sha=fake_sha(1)),  # tie
                 Item(base.vectors[1], [("a", "Polka", False)], sha=fake_sha(2))])  # a suggestion

    result = retrain(db, data_dir, base_features=small_base_path, progress=False)

    assert result.status == "rejected" and "no labelled feedback" in result.reason and result.paired is None
    assert (result.counts.feedback_unlabelled, result.counts.suggestions) == (2, {"Polka": 1})
    assert served(data_dir)[1].version == CHAMPION
    assert db_rows(db, "SELECT status FROM retrain_runs") == [("rejected",)]


def test_a_second_retrain_is_refused_while_one_runs(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, noisy_copies(base, unused_base_rows[:20], held_out=False))

    conn = lock.connect(db)  # a periodic retrain, alive in this very process
    run = lock.try_start(conn, "periodic", os.getpid(), time.time())
    conn.close()
    with pytest.raises(RetrainBusy, match=f"run {run}"):
        retrain(db, data_dir, base_features=small_base_path, progress=False)
    cli = run_cli("--db", str(db), "--data-dir", str(data_dir), "--base-features", str(small_base_path))
    assert cli.returncode == 3 and "another retrain is running" in cli.stderr
    assert db_rows(db, "SELECT id, status FROM retrain_runs") == [(run, "running")]
    assert served(data_dir)[1].version == CHAMPION


def test_cli_json(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, noisy_copies(base, unused_base_rows[:30], held_out=False))
    cli = run_cli("--db", str(db), "--data-dir", str(data_dir), "--base-features", str(small_base_path),
                  "--json", "--alpha", "0", "--trigger", "periodic")
    assert cli.returncode == 0, cli.stderr
    result = RetrainResult.from_json(cli.stdout)
    assert result.status == "promoted" and result.counts.feedback_train == 30
    assert result.base_validation.champion.n == 300 and result.paired is not None
    assert served(data_dir)[1].version == result.version
    assert db_rows(db, "SELECT status, trigger FROM retrain_runs") == [("promoted", "periodic")]


def test_cli_takes_every_knob_as_a_flag_and_ignores_the_environment(tmp_path, monkeypatch):
    """Only DATA_DIR (where the data is) comes from the environment; the bot passes the rest as flags."""
    from training import cli

    monkeypatch.chdir(tmp_path)
    for name, value in {"DATA_DIR": "from-env", "MIN_VOTES": "7", "ADMIN_VOTE_WEIGHT": "9", "KEEP_MODEL_VERSIONS": "8",
                        "RETRAIN_INCLUDE_SPOTIFY": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MODEL_DIR", raising=False)
    seen = {}

    def fake_retrain(db, data_dir, **kwargs):
        seen.update(kwargs, db=db, data_dir=data_dir)
        raise retrain_module.RetrainBusy("stop here")

    monkeypatch.setattr(retrain_module, "retrain", fake_retrain)
    assert cli.main(["retrain", "--no-progress"]) == cli.EXIT_BUSY == 3
    assert seen["data_dir"] == Path("from-env") and seen["db"] == Path("from-env/sleeve.db")
    assert (seen["alpha"], seen["include_spotify"], seen["min_votes"], seen["admin_weight"], seen["keep"]) == (
        0.05, False, 1, 1.0, 5)
    assert cli.main(["retrain", "--no-progress", "--alpha", "0.1", "--include-spotify", "--min-votes", "2",
                     "--admin-weight", "3", "--keep", "4"]) == 3
    assert (seen["alpha"], seen["include_spotify"], seen["min_votes"], seen["admin_weight"], seen["keep"]) == (
        0.1, True, 2, 3.0, 4)


def test_cli_refuses_to_retrain_when_model_dir_pins_the_served_model(tmp_path, monkeypatch, capsys):
    from training import cli

    assert cli.main(["retrain", "--no-progress", "--model-dir", str(tmp_path), "--data-dir", str(tmp_path)]) == 2
    assert "MODEL_DIR pins the served model" in capsys.readouterr().err


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_sigkill_at_every_checkpoint_is_survived(point, data_dir, small_base_path, base, unused_base_rows):
    """Kill -9 mid-retrain: the old model stays served (or, once CURRENT has switched, the new one,
    complete), the database stays whole with every vote, and the next retrain recovers the lock."""
    db = db_of(data_dir)
    fill_db(db, noisy_copies(base, unused_base_rows[:40], held_out=False))  # no held-out rows: (b) is void
    votes_before = db_rows(db, "SELECT * FROM votes ORDER BY prediction_id, voter_id")
    args = ("--db", str(db), "--data-dir", str(data_dir), "--base-features", str(small_base_path), "--alpha", "0")

    crashed = run_cli(*args, env={CRASH_ENV: point})

    assert crashed.returncode == -9, crashed.stderr
    switched = CHECKPOINTS.index(point) >= CHECKPOINTS.index("after_switch")
    path, artifact = served(data_dir)  # loads: never half a model
    assert (artifact.version != CHAMPION) == switched
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert db_rows(db, "SELECT * FROM votes ORDER BY prediction_id, voter_id") == votes_before
    assert db_rows(db, "SELECT status FROM retrain_runs") == [("promoted" if point == "after_record" else "running",)]

    result = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False)

    # Once switched, the crashed run's model already holds these votes: nothing new to fit.
    assert result.status == ("rejected" if switched else "promoted"), result.reason
    if switched:
        assert "no new feedback" in result.reason and result.version is None
    version = artifact.version if switched else result.version
    assert served(data_dir)[1].version == version
    statuses = db_rows(db, "SELECT status, summary FROM retrain_runs ORDER BY id")
    assert [s for s, _ in statuses] == ["promoted" if point == "after_record" else "crashed", result.status]
    if point != "after_record":
        assert "is gone" in json.loads(statuses[0][1])["recovered"]
    promoted = {v for v, in db_rows(db, "SELECT version FROM model_versions WHERE promoted = 1")}
    assert version in promoted
    if switched:  # the crashed run's switch was recorded by the next run (or by itself)
        assert artifact.version in promoted
    assert db_rows(db, "SELECT * FROM votes ORDER BY prediction_id, voter_id") == votes_before
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_lost_lock_stops_before_the_switch(data_dir, small_base_path, base, unused_base_rows, monkeypatch):
    """If another process takes the lock over (judging this run dead), nothing is switched."""
    db = db_of(data_dir)
    fill_db(db, noisy_copies(base, unused_base_rows[:20], held_out=False))
    real_checkpoint = retrain_module.checkpoint

    def steal(name: str) -> None:
        real_checkpoint(name)
        if name == "after_write":
            conn = sqlite3.connect(db)
            conn.execute("UPDATE retrain_runs SET status = 'crashed' WHERE status = 'running'")
            conn.commit()
            conn.close()

    monkeypatch.setattr(retrain_module, "checkpoint", steal)
    with pytest.raises(retrain_module.LockLost):
        retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False)
    assert served(data_dir)[1].version == CHAMPION


def test_failure_marks_the_run_failed(data_dir, small_base_path, base, monkeypatch):
    db = db_of(data_dir)
    fill_db(db, [Item(base.vectors[0], [("a", "Rock", False)], sha=fake_sha(3, held_out=False))])

    def broken(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(retrain_module, "fit_genre", broken)
    with pytest.raises(MemoryError):
        retrain(db, data_dir, base_features=small_base_path, progress=False)
    [(status, summary)] = db_rows(db, "SELECT status, summary FROM retrain_runs")
    assert status == "failed" and "out of memory" in json.loads(summary)["error"]
    assert served(data_dir)[1].version == CHAMPION


def test_prunes_old_versions_but_keeps_the_served_one(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    versions = []
    for i in range(3):
        fill_db(db, noisy_copies(base, unused_base_rows[10 * i:10 * i + 10], held_out=False, seed=i))
        versions.append(retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, keep=2,
                                progress=False).version)
    on_disk = sorted(p.name for p in registry_root(data_dir).iterdir() if p.is_dir())
    assert on_disk == sorted(versions[1:])
    assert served(data_dir)[1].version == versions[-1]


def test_missing_database_is_an_error(tmp_path, small_base_path):
    with pytest.raises(FileNotFoundError):
        retrain(tmp_path / "nope.db", tmp_path, base_features=small_base_path, progress=False)
    assert not (tmp_path / "nope.db").exists()


@pytest.mark.slow
def test_retrain_on_the_full_base_set(tmp_path, base, unused_base_rows):
    """The real thing: all base covers, the shipped model as champion (seconds with logistic
    regression, a minute or two with the RBF SVC)."""
    data_dir = tmp_path / "data"
    db = db_of(data_dir)
    rows = np.random.default_rng(3).choice(base.train_rows, 200, replace=False)
    fill_db(db, noisy_copies(base, rows, held_out=False) + noisy_copies(base, rows[:50], held_out=True, seed=4))

    result = retrain(db, data_dir, progress=False)

    assert result.champion == "shipped"
    assert result.counts.base_train == len(base.train_rows)
    shipped_top1 = artifacts.read_manifest(artifacts.SHIPPED_DIR)["metrics"]["validation"]["top1"]
    assert result.base_validation.champion.top1 == pytest.approx(shipped_top1)
    if result.status == "promoted":
        assert served(data_dir)[1].version == result.version
    else:
        assert served(data_dir)[0] == artifacts.SHIPPED_DIR


def jazz_feedback(base, unused_base_rows, n: int = 40) -> list[Item]:
    """`n` covers of one base genre voted "jazz" in a few spellings: a genre the model does not know."""
    rows = [int(r) for r in unused_base_rows if base.label_sets[r] == frozenset({"Country"})][:n]
    spellings = ["Jazz", "jazz", " JAZZ "]
    return noisy_copies(base, rows, {row: spellings[i % 3] for i, row in enumerate(rows)}, seed=11)


@pytest.mark.parametrize("mode, approve, added", [
    ("off", False, False),
    ("admin", False, False),
    ("admin", True, True),
    ("auto", False, True),
])
def test_a_new_genre_crossing_the_threshold_under_each_mode(data_dir, small_base_path, base, unused_base_rows,
                                                            mode, approve, added):
    db = db_of(data_dir)
    fill_db(db, jazz_feedback(base, unused_base_rows) + noisy_copies(base, unused_base_rows[:20], held_out=False))
    if approve:
        async def approve_jazz() -> None:
            async with await Store.open(db) as store:
                await store.approve_genre("jazz", "admin-1")

        asyncio.run(approve_jazz())

    result = retrain(db, data_dir, base_features=small_base_path, dry_run=True, alpha=ALWAYS, progress=False,
                     new_genres=mode, new_genre_min_covers=25)

    # one genre, counted per cover; once added it is a class, not a suggestion
    assert result.counts.suggestions == ({} if added else {"Jazz": 40})
    if not added:
        assert result.new_genres == ()
        return
    [jazz] = result.new_genres
    assert jazz.name == "Jazz" and jazz.train_covers + jazz.held_out_covers == 40
    assert jazz.held_out_covers > 0 and jazz.recall is not None and 0 <= jazz.recall <= 1  # measured: simulate-feedback
    assert result.base_validation.champion.n == result.base_validation.challenger.n == 300  # old genres only


def test_too_few_covers_add_no_genre(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, jazz_feedback(base, unused_base_rows, n=10))
    result = retrain(db, data_dir, base_features=small_base_path, dry_run=True, alpha=ALWAYS, progress=False,
                     new_genres="auto", new_genre_min_covers=25)
    assert result.new_genres == () and result.counts.suggestions == {"Jazz": 10}


def test_a_promoted_new_genre_is_served_and_kept(data_dir, small_base_path, base, unused_base_rows):
    db = db_of(data_dir)
    fill_db(db, jazz_feedback(base, unused_base_rows))
    first = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False, new_genres="auto",
                    new_genre_min_covers=25)
    assert first.status == "promoted"
    served_model = served(data_dir)[1]
    assert served_model.genres[-1] == "Jazz" and "Jazz" in served_model.distinctive
    fill_db(db, noisy_copies(base, unused_base_rows[:5], held_out=False, seed=21))
    second = retrain(db, data_dir, base_features=small_base_path, alpha=ALWAYS, progress=False, new_genres="off")
    assert [g.name for g in second.new_genres] == ["Jazz"]  # a class once learnt stays, whatever the mode now
    assert served(data_dir)[1].genres[-1] == "Jazz"
