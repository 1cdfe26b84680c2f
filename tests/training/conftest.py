"""Retraining fixtures: a small slice of the committed base features, a champion fitted on it,
and feedback databases made by the bot's own store (feedback.store).

Fitting the genre model on the whole base set takes about a minute, so the fast tests retrain
on SMALL_TRAIN base covers; a champion fitted on the same slice makes the comparison fair.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from feedback.reader import is_held_out
from feedback.records import PredictionRecord
from feedback.store import Store, default_path
from models import artifact as artifacts
from models.genre import Recipe
from models.popularity import PopularityModel
from models.registry import ModelRegistry, registry_root
from training.train import GenreData, distinctive_from, evaluate_genre, fit_genre

SMALL_TRAIN = 500
SMALL_VALIDATION = 300
CHAMPION = "v20200101-000000"
SPEC = artifacts.read_manifest(artifacts.SHIPPED_DIR)["feature_spec"]


@dataclass
class Item:
    """One prediction the bot answered, and the votes it got."""

    vector: np.ndarray
    votes: list[tuple[str, str, bool]] = field(default_factory=list)  # (voter, label, is_admin)
    source_kind: str = "upload"
    sha: str | None = None
    tags: list[tuple[str, float]] = field(default_factory=list)
    platform: str = "discord"
    text: str = ""  # what the cover read


def full_base() -> GenreData:
    return GenreData.load(artifacts.BASE_FEATURES)


def subset(data: GenreData, rows: np.ndarray, validation: np.ndarray) -> GenreData:
    return GenreData(data.vectors[rows], [data.label_sets[i] for i in rows], validation, data.genres,
                     [data.files[i] for i in rows], data.tag_matrix[rows], data.vocabulary)


@pytest.fixture(scope="session")
def base() -> GenreData:
    return full_base()


@pytest.fixture(scope="session")
def small_base_path(tmp_path_factory: pytest.TempPathFactory, base: GenreData) -> Path:
    """SMALL_TRAIN training + SMALL_VALIDATION validation covers of the base set, as an .npz."""
    rng = np.random.default_rng(7)
    train = np.sort(rng.choice(base.train_rows, SMALL_TRAIN, replace=False))
    validation = np.sort(rng.choice(base.validation_rows, SMALL_VALIDATION, replace=False))
    rows = np.concatenate([train, validation])
    mask = np.zeros(len(rows), dtype=bool)
    mask[SMALL_TRAIN:] = True
    path = tmp_path_factory.mktemp("base") / "small_base.npz"
    subset(base, rows, mask).save(path)
    np.save(path.with_suffix(".rows.npy"), rows)  # which full-base rows the slice took
    return path


@pytest.fixture(scope="session")
def small_base(small_base_path: Path) -> GenreData:
    return GenreData.load(small_base_path)


@pytest.fixture(scope="session")
def unused_base_rows(small_base_path: Path, base: GenreData) -> np.ndarray:
    """Full-base training rows the small slice did not take: new covers for synthetic feedback."""
    taken = set(np.load(small_base_path.with_suffix(".rows.npy")).tolist())
    return np.array([i for i in base.train_rows if i not in taken])


@pytest.fixture(scope="session")
def champion_template(tmp_path_factory: pytest.TempPathFactory, small_base: GenreData) -> Path:
    """The served model of the fast tests: the shipped recipe fitted on the small slice."""
    shipped = artifacts.read_manifest(artifacts.SHIPPED_DIR)
    recipe = Recipe.from_dict(shipped["recipe"])
    model = fit_genre(small_base, recipe)
    val = small_base.validation_rows
    metrics = evaluate_genre(model, small_base.vectors[val], [small_base.label_sets[i] for i in val])
    manifest = {**shipped, "version": CHAMPION, "created": "2020-01-01T00:00:00+00:00",
                "metrics": {"validation": metrics, "popularity": shipped["metrics"]["popularity"]}}
    popularity = PopularityModel.load(artifacts.SHIPPED_DIR / artifacts.POPULARITY_FILE)
    artifact = artifacts.Artifact(manifest, model, popularity, small_base.vocabulary,
                                  distinctive_from(small_base, shipped.get("distinctive_top_n", 10)))
    return artifacts.save(artifact, tmp_path_factory.mktemp("champion") / CHAMPION)


@pytest.fixture
def data_dir(tmp_path: Path, champion_template: Path) -> Path:
    """A data folder whose registry serves the small champion."""
    root = tmp_path / "data"
    registry = ModelRegistry(registry_root(root))
    shutil.copytree(champion_template, registry.root / CHAMPION)
    registry.promote(CHAMPION, SPEC)
    return root


def db_of(data_dir: Path) -> Path:
    return default_path(data_dir)


def fake_sha(seed: object, held_out: bool | None = None) -> str:
    """A made-up image hash; with `held_out`, one that lands on that side of the feedback split."""
    for salt in range(10_000):
        sha = hashlib.sha256(repr((seed, salt)).encode()).hexdigest()
        if held_out is None or is_held_out(sha) == held_out:
            return sha
    raise AssertionError("unreachable")


def noisy_copies(base: GenreData, rows: Iterable[int], labels: dict[int, str] | None = None,
                 held_out: bool | None = None, noise: float = 0.05, seed: int = 0, **item: object) -> list[Item]:
    """A noisy version of each base row (the same cover seen again), voted with its label.

    The noise is multiplicative (each feature times 1 + N(0, noise)), so zeros stay zeros and signs
    stay: a near-copy under any feature transform. The label is the row's first base genre unless
    `labels` says otherwise. `held_out` picks the side of the feedback split (None: the hash decides).
    """
    rng = np.random.default_rng(seed)
    items = []
    for row in rows:
        row = int(row)
        label = (labels or {}).get(row) or sorted(base.label_sets[row])[0]
        vector = base.vectors[row] * (1 + rng.normal(size=base.vectors.shape[1]).astype(np.float32) * noise)
        items.append(Item(vector.astype(np.float32), [(f"voter-{seed}-{row}", label, False)],
                          sha=fake_sha((seed, row), held_out), **item))
    return items


def rotated_labels(data: GenreData, rows: Iterable[int]) -> dict[int, str]:
    """Each row's first genre moved one place along the genre list: labels that all disagree."""
    genres, labels = data.genres, {}
    for row in rows:
        first = genres.index(sorted(data.label_sets[row])[0])
        shift = 1
        while genres[(first + shift) % len(genres)] in data.label_sets[row]:
            shift += 1
        labels[int(row)] = genres[(first + shift) % len(genres)]
    return labels


def fill_db(path: Path, items: Iterable[Item], genres: list[str] | None = None) -> list[int]:
    """Write the items into a Store-created database; their prediction ids."""
    return asyncio.run(_fill(path, list(items), genres or ["Country", "Electronic", "HipHop", "Pop", "Rock"]))


async def _fill(path: Path, items: list[Item], genres: list[str]) -> list[int]:
    ids = []
    async with await Store.open(path) as store:
        for n, item in enumerate(items):
            probabilities = {g: (0.6 if i == n % len(genres) else 0.1) for i, g in enumerate(genres)}
            prediction = await store.record_prediction(PredictionRecord(
                platform=item.platform, source_kind=item.source_kind, source_ref=f"ref-{n}",
                image_sha256=item.sha or fake_sha(n), model_version=CHAMPION, probabilities=probabilities,
                popularity=50.0, tags=item.tags, features=item.vector, requester_id=f"user{n}",
                read_text=item.text,
            ))
            for voter, label, is_admin in item.votes:
                await store.vote(prediction, voter, label, is_admin=is_admin)
            ids.append(prediction)
    return ids
