"""Model versions on disk: the atomic CURRENT switch, fallbacks, rollback and pruning."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from models import artifact as artifacts
from models.genre import Recipe
from models.popularity import PopularityModel
from models.registry import (
    CURRENT_FILE,
    SHIPPED,
    TEMP_GRACE_S,
    ModelRegistry,
    RegistryError,
    load_served,
    registry_root,
    resolve_model_dir,
)
from training.train import GenreData, fit_genre

SPEC = artifacts.read_manifest(artifacts.SHIPPED_DIR)["feature_spec"]
NAMES = ["v1", "v2", "v3", "v4"]


@pytest.fixture(scope="module")
def tiny_artifact() -> artifacts.Artifact:
    """A real, small artifact: the shipped recipe fitted on 60 base covers."""
    data = GenreData.load(artifacts.BASE_FEATURES)
    rows = data.train_rows[:60]
    model = fit_genre(data, Recipe.from_dict(artifacts.read_manifest(artifacts.SHIPPED_DIR)["recipe"]), rows=rows)
    popularity = PopularityModel.load(artifacts.SHIPPED_DIR / artifacts.POPULARITY_FILE)
    manifest = {"version": "?", "genres": data.genres, "feature_spec": SPEC, "recipe": model.recipe.to_dict(),
                "metrics": {}}
    return artifacts.Artifact(manifest, model, popularity, data.vocabulary, {g: [] for g in data.genres})


@pytest.fixture
def registry(tmp_path: Path, tiny_artifact: artifacts.Artifact) -> ModelRegistry:
    """v1..v4, created a minute apart, none served yet."""
    registry = ModelRegistry(registry_root(tmp_path / "data"))
    for i, name in enumerate(NAMES):
        write_version(registry, tiny_artifact, name, created=f"2026-01-01T00:0{i}:00+00:00")
    return registry


def write_version(registry: ModelRegistry, artifact: artifacts.Artifact, name: str, created: str) -> Path:
    artifact.manifest = {**artifact.manifest, "version": name, "created": created}
    return artifacts.save(artifact, registry.root / name)


def warnings_in(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_no_current_serves_the_shipped_model_quietly(registry, caplog):
    caplog.set_level(logging.WARNING)
    assert registry.current_name() is None
    assert registry.current_dir(SPEC) == artifacts.SHIPPED_DIR
    assert warnings_in(caplog) == ""
    assert ModelRegistry(registry.root.parent / "elsewhere").current_dir(SPEC) == artifacts.SHIPPED_DIR


def test_promote_switches_current_atomically(registry):
    registry.promote("v2", SPEC)
    assert (registry.root / CURRENT_FILE).read_text() == "v2\n"
    assert registry.current_dir(SPEC) == registry.root / "v2"
    registry.promote("v3")
    assert registry.current_dir(SPEC) == registry.root / "v3"
    assert [p.name for p in registry.root.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert [v.version for v in registry.versions() if v.current] == ["v3"]


def test_a_failed_switch_leaves_the_old_current(registry, monkeypatch):
    registry.promote("v2")

    def power_cut(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="disk full"):
        registry.promote("v3")
    monkeypatch.undo()
    assert (registry.root / CURRENT_FILE).read_text() == "v2\n"
    assert [p.name for p in registry.root.iterdir() if p.name.startswith(".")] == []


def test_promote_refuses_missing_or_damaged_versions(registry):
    with pytest.raises(RegistryError, match="does not exist"):
        registry.promote("v9")
    (registry.root / "v2" / artifacts.GENRE_FILE).unlink()
    with pytest.raises(RegistryError, match="missing genre.joblib"):
        registry.promote("v2")
    with pytest.raises(RegistryError, match="not a model version name"):
        registry.promote("../v1")
    with pytest.raises(RegistryError, match="different features"):
        registry.promote("v3", {**SPEC, "vector_dim": 1})
    assert registry.current_name() is None


@pytest.mark.parametrize("damage", ["garbage manifest", "missing genre file", "truncated genre file",
                                    "other feature spec", "folder deleted"])
def test_damaged_current_falls_back_to_the_previous_good_version(registry, caplog, damage):
    registry.promote("v3")
    v3 = registry.root / "v3"
    if damage == "garbage manifest":
        (v3 / artifacts.MANIFEST).write_text("{not json")
    elif damage == "missing genre file":
        (v3 / artifacts.GENRE_FILE).unlink()
    elif damage == "truncated genre file":
        data = (v3 / artifacts.GENRE_FILE).read_bytes()
        (v3 / artifacts.GENRE_FILE).write_bytes(data[: len(data) // 2])
    elif damage == "other feature spec":
        manifest = json.loads((v3 / artifacts.MANIFEST).read_text())
        manifest["feature_spec"]["descriptors"] = "descriptors-v0"
        (v3 / artifacts.MANIFEST).write_text(json.dumps(manifest))
    else:
        for path in v3.iterdir():
            path.unlink()
        v3.rmdir()
    caplog.set_level(logging.WARNING, logger="models.registry")

    # current_dir reads files, never unpickles: a truncated pickle is found by current, which loads
    named = registry.root / ("v3" if damage == "truncated genre file" else "v2")  # not v4: newer, never served
    assert registry.current_dir(SPEC) == named
    name, path, artifact = registry.current(SPEC)
    assert (name, artifact.version) == ("v2", "v2")
    assert "v3 cannot be served" in warnings_in(caplog) and "serving model version v2" in warnings_in(caplog)


def test_current_dir_never_unpickles(registry, monkeypatch):
    registry.promote("v3")
    monkeypatch.setattr(artifacts.joblib, "load", lambda *a, **k: pytest.fail("current_dir loaded a model"))
    assert registry.current_dir(SPEC) == registry.root / "v3"
    assert resolve_model_dir(None, registry.root.parent, SPEC) == registry.root / "v3"


def test_load_served_loads_the_version_resolve_names_or_falls_back(registry, tmp_path):
    registry.promote("v3")
    path, artifact = load_served(None, registry.root.parent, SPEC)
    assert (path, artifact.version) == (registry.root / "v3", "v3")
    (registry.root / "v3" / artifacts.GENRE_FILE).write_bytes(b"not a pickle")
    path, artifact = load_served(None, registry.root.parent, SPEC)
    assert (path, artifact.version) == (registry.root / "v2", "v2")
    path, artifact = load_served(registry.root / "v4", tmp_path / "elsewhere", SPEC)  # MODEL_DIR wins
    assert (path, artifact.version) == (registry.root / "v4", "v4")


def test_fallback_skips_damaged_older_versions_and_ends_at_shipped(registry, caplog):
    registry.promote("v3")
    for name in ("v3", "v2"):
        (registry.root / name / artifacts.MANIFEST).write_text("")
    caplog.set_level(logging.WARNING, logger="models.registry")
    assert registry.current_dir(SPEC) == registry.root / "v1"
    (registry.root / "v1" / artifacts.TAGS_FILE).unlink()
    assert registry.current_dir(SPEC) == artifacts.SHIPPED_DIR
    assert "serving the shipped model" in warnings_in(caplog)


def test_unreadable_current_file_is_a_warning_not_a_crash(registry, caplog):
    (registry.root / CURRENT_FILE).write_text("../../etc/passwd\n")
    caplog.set_level(logging.WARNING, logger="models.registry")
    assert registry.current_dir(SPEC) == registry.root / "v4"  # no known current: the newest good one
    assert "not a version name" in warnings_in(caplog)


def test_rollback_walks_back_to_the_shipped_model(registry):
    registry.promote("v3")
    assert registry.rollback() == "v2"
    assert registry.current_dir(SPEC) == registry.root / "v2"
    (registry.root / "v1" / artifacts.POPULARITY_FILE).unlink()  # damaged: skipped
    assert registry.rollback(expected_spec=SPEC) == SHIPPED
    assert registry.current_dir(SPEC) == artifacts.SHIPPED_DIR
    with pytest.raises(RegistryError, match="nothing older"):
        registry.rollback()
    assert registry.rollback("v4", SPEC) == "v4"  # roll forward by name
    assert registry.current_dir(SPEC) == registry.root / "v4"


def test_rollback_cli(registry, capsys):
    from training.cli import main

    registry.promote("v4")
    assert main(["rollback", "--data-dir", str(registry.root.parent)]) == 0
    assert "now serving v3 (was v4)" in capsys.readouterr().out
    assert main(["rollback", "v1", "--data-dir", str(registry.root.parent)]) == 0
    assert registry.current_name() == "v1"
    assert main(["rollback", "v7", "--data-dir", str(registry.root.parent)]) == 2
    assert "v1, v2, v3, v4" in capsys.readouterr().err


def test_prune_keeps_the_newest_and_the_current(registry):
    registry.promote("v1")
    leftover = registry.root / ".v5-abc123"  # an interrupted save
    leftover.mkdir()
    old = time.time() - TEMP_GRACE_S - 10
    os.utime(leftover, (old, old))
    fresh = registry.root / ".v6-def456"  # a save in progress right now
    fresh.mkdir()

    assert registry.prune(keep=2) == ["v2"]
    assert sorted(p.name for p in registry.root.iterdir()) == [".v6-def456", CURRENT_FILE, "v1", "v3", "v4"]
    assert registry.prune(keep=0) == ["v3", "v4"]
    assert registry.current_dir(SPEC) == registry.root / "v1"
    assert (artifacts.SHIPPED_DIR / artifacts.MANIFEST).is_file()


def test_prune_keeps_everything_when_keep_exceeds_the_versions(registry):
    """keep=5 with four versions on disk deletes nothing (a negative slice start once deleted most)."""
    registry.promote("v4")
    assert registry.prune(keep=5) == []
    assert registry.prune(keep=4) == []
    assert [v.version for v in registry.versions()] == NAMES


def test_versions_are_listed_oldest_first_with_their_problems(registry):
    (registry.root / "v2" / artifacts.MANIFEST).write_text("[]")
    registry.promote("v4")
    listed = registry.versions()
    assert [v.version for v in listed if v.version != "v2"] == ["v1", "v3", "v4"]
    problems = {v.version: v.problem for v in listed}
    assert problems["v1"] is None and "lacks genres" in problems["v2"]
    assert [v.current for v in listed if v.version == "v4"] == [True]


def test_new_names_do_not_collide(registry):
    first = registry.new_name()
    (registry.root / first).mkdir()
    second = registry.new_name({f"{first}-2"})
    assert second == f"{first}-3"


def test_resolve_model_dir(registry, tmp_path):
    data_dir = registry.root.parent
    assert resolve_model_dir(None, data_dir, SPEC) == artifacts.SHIPPED_DIR
    registry.promote("v2")
    assert resolve_model_dir(None, data_dir, SPEC) == registry.root / "v2"
    assert resolve_model_dir(tmp_path / "mine", data_dir, SPEC) == tmp_path / "mine"  # MODEL_DIR wins
    assert resolve_model_dir(None, tmp_path / "empty", SPEC) == artifacts.SHIPPED_DIR
