import json
import logging
import re
from importlib import metadata

import numpy as np
import pytest

from models import artifact as artifacts
from models import popularity as pop
from models.distinctive import DistinctiveTag
from models.features import vector_size
from models.genre import GenreModel, Recipe

GENRES = ["Country", "Rock"]
SPEC = {"embedder": "test", "vector_dim": vector_size()}


def tiny_artifact(version: str = "v-test") -> artifacts.Artifact:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, vector_size())).astype(np.float32)
    targets = np.array([0, 1] * 20)
    vectors[targets == 1, :5] += 3.0
    genre = GenreModel.fit(vectors, targets, GENRES, Recipe(C=1.0))
    popularity = pop.fit(vectors, rng.uniform(10, 50, 40))
    pop.calibrate(popularity, vectors[:10], rng.uniform(10, 50, 10))
    manifest = {"version": version, "genres": GENRES, "feature_spec": SPEC, "metrics": {}}
    distinctive = {"Country": [DistinctiveTag("red", 2.5, 0.3, 12)], "Rock": [DistinctiveTag("dark", 1.8, 0.4, 20)]}
    return artifacts.Artifact(manifest, genre, popularity, ["dark", "red"], distinctive)


def test_round_trip_keeps_predictions(tmp_path):
    original = tiny_artifact()
    artifacts.save(original, tmp_path / "v1")
    loaded = artifacts.load(tmp_path / "v1", SPEC)
    probe = np.random.default_rng(1).normal(size=(5, vector_size())).astype(np.float32)
    np.testing.assert_allclose(loaded.genre.predict_proba(probe), original.genre.predict_proba(probe))
    assert loaded.version == "v-test" and loaded.genres == GENRES
    assert loaded.distinctive == original.distinctive  # lift, share and support survive the round trip
    assert artifacts.read_distinctive(tmp_path / "v1") == original.distinctive
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    assert {"version", "created", "genres", "feature_spec", "libraries", "metrics"} <= set(manifest)


def test_feature_spec_mismatch_fails_with_a_clear_message(tmp_path):
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    other = {**SPEC, "embedder": "something-else"}
    with pytest.raises(artifacts.ArtifactError, match="different features.*embedder.*python -m training train"):
        artifacts.load(tmp_path / "v1", other)


def test_missing_and_damaged_artifacts_raise_artifact_error(tmp_path):
    with pytest.raises(artifacts.ArtifactError, match="manifest.json is missing"):
        artifacts.load(tmp_path / "nothing", SPEC)
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    (tmp_path / "v1" / "genre.joblib").write_bytes(b"garbage")
    with pytest.raises(artifacts.ArtifactError, match="damaged"):
        artifacts.load(tmp_path / "v1", SPEC)


def test_save_replaces_atomically_and_leaves_no_temp_dirs(tmp_path):
    artifacts.save(tiny_artifact("a"), tmp_path / "v1")
    artifacts.save(tiny_artifact("b"), tmp_path / "v1")
    assert artifacts.read_manifest(tmp_path / "v1")["version"] == "b"
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]


def test_popularity_never_worse_than_median_on_held_out_rows():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 20))
    values = rng.uniform(0, 60, 200)  # pure noise: no skill to find
    model = pop.fit(vectors[:150], values[:150])
    metrics = pop.calibrate(model, vectors[150:], values[150:])
    assert metrics["mae"] <= metrics["mae_median_baseline"] + 1e-9
    result = model.predict(vectors[0])
    assert result.low <= result.value <= result.high
    assert "barely" in result.skill_note


def test_popularity_finds_real_signal():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 10))
    values = 30 + 8 * vectors[:, 0] + rng.normal(size=400)
    model = pop.fit(vectors[:300], values[:300])
    metrics = pop.calibrate(model, vectors[300:], values[300:])
    assert model.shrink > 0 and metrics["spearman"] > 0.8
    assert metrics["mae"] < metrics["mae_median_baseline"]


@pytest.mark.parametrize("damage", ["tags-without-vocabulary", "manifest-list", "manifest-without-genres", "pickled-dict"])
def test_every_kind_of_damage_is_an_artifact_error(tmp_path, damage):
    import joblib

    directory = artifacts.save(tiny_artifact(), tmp_path / "v1")
    if damage == "tags-without-vocabulary":
        (directory / "tags.json").write_text('{"distinctive": {}}')
    elif damage == "manifest-list":
        (directory / "manifest.json").write_text("[1, 2]")
    elif damage == "manifest-without-genres":
        (directory / "manifest.json").write_text('{"version": "x", "feature_spec": {}}')
    else:
        joblib.dump({"not": "a model"}, directory / "genre.joblib")
    with pytest.raises(artifacts.ArtifactError):
        artifacts.load(directory, SPEC)


def rewrite_manifest(directory, **changes):
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest))


def test_a_model_from_another_scikit_learn_minor_version_is_refused(tmp_path):
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    rewrite_manifest(tmp_path / "v1", libraries={"scikit-learn": "0.24.2"})
    installed = metadata.version("scikit-learn")
    with pytest.raises(artifacts.ArtifactError, match=rf"scikit-learn 0\.24\.2, but {re.escape(installed)} is installed.*0\.24\.\*"):
        artifacts.load(tmp_path / "v1", SPEC)


def test_a_patch_release_apart_still_loads(tmp_path):
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    major, minor = metadata.version("scikit-learn").split(".")[:2]
    rewrite_manifest(tmp_path / "v1", libraries={"scikit-learn": f"{major}.{minor}.999"})
    assert artifacts.load(tmp_path / "v1", SPEC).version == "v-test"


def test_check_sklearn_compares_minor_versions():
    artifacts.check_sklearn({"libraries": {"scikit-learn": "1.9.1"}}, "m", installed="1.9.0")
    with pytest.raises(artifacts.ArtifactError):
        artifacts.check_sklearn({"libraries": {"scikit-learn": "1.9.1"}}, "m", installed="1.10.0")
    with pytest.raises(artifacts.ArtifactError):
        artifacts.check_sklearn({"libraries": {"scikit-learn": "1.9.1"}}, "m", installed="2.9.1")


def test_a_model_without_a_recorded_version_loads_with_one_warning(tmp_path, caplog):
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    rewrite_manifest(tmp_path / "v1", libraries=None)
    with caplog.at_level(logging.WARNING, logger="models.artifact"):
        artifacts.load(tmp_path / "v1", SPEC)
        artifacts.load(tmp_path / "v1", SPEC)
    warnings = [r for r in caplog.records if "does not record its scikit-learn version" in r.getMessage()]
    assert len(warnings) == 1


def test_the_shipped_model_records_the_installed_scikit_learn_minor_version():
    recorded = artifacts.read_manifest(artifacts.SHIPPED_DIR)["libraries"]["scikit-learn"]
    assert recorded.split(".")[:2] == metadata.version("scikit-learn").split(".")[:2]


def test_pyproject_installs_the_scikit_learn_minor_version_the_shipped_model_needs():
    import tomllib
    from pathlib import Path

    recorded = artifacts.read_manifest(artifacts.SHIPPED_DIR)["libraries"]["scikit-learn"]
    major, minor = map(int, recorded.split(".")[:2])
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    [requirement] = [r for r in pyproject["project"]["dependencies"] if r.startswith("scikit-learn")]
    assert requirement == f"scikit-learn>={major}.{minor},<{major}.{minor + 1}"
def test_artifact_with_plain_word_distinctive_tags_still_loads(tmp_path):
    """Artifacts made before lift was stored list bare words; they load with lift None."""
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    tags = tmp_path / "v1" / "tags.json"
    tags.write_text(json.dumps({"vocabulary": ["dark", "red"], "distinctive": {"Country": ["red"], "Rock": ["dark"]}}))
    loaded = artifacts.load(tmp_path / "v1", SPEC)
    assert loaded.distinctive == {"Country": [DistinctiveTag("red")], "Rock": [DistinctiveTag("dark")]}
