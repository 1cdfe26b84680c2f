import json

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


def test_artifact_with_plain_word_distinctive_tags_still_loads(tmp_path):
    """Artifacts made before lift was stored list bare words; they load with lift None."""
    artifacts.save(tiny_artifact(), tmp_path / "v1")
    tags = tmp_path / "v1" / "tags.json"
    tags.write_text(json.dumps({"vocabulary": ["dark", "red"], "distinctive": {"Country": ["red"], "Rock": ["dark"]}}))
    loaded = artifacts.load(tmp_path / "v1", SPEC)
    assert loaded.distinctive == {"Country": [DistinctiveTag("red")], "Rock": [DistinctiveTag("dark")]}
