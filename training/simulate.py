"""`python -m training simulate-feedback`: labelled covers played as people uploading and voting.

A simulation only, to measure whether votes teach: each voted cover goes through the bot's own
service (the console platform: prediction, store, vote), and after every `step` votes the real
retrain job runs on that database (paired promotion, NEW_GENRES=auto). The served model is then
scored on the base set's fixed validation split and on covers of the same source nobody voted on.
Nothing it trains ships: it works in a temporary DATA_DIR.

It plays a chat user, so it drives `bot.service`: the one module of `training` that imports `bot`,
and only when the command runs (nothing else in `training` imports this module).

The labels: a CSV with `file` and a label column. `--column genres` takes each row's genres that
the base model knows; `--column playlists --genre Folk` takes the rows whose playlists name Folk and
votes them "Folk", a genre the base model does not know (a new class once it has
`--min-covers` voted covers). Rows are shuffled (seeded); the first `--votes` are voted, the rest
are held out.
"""

from __future__ import annotations

import asyncio
import csv
import random
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models import artifact as artifacts
from models.registry import ModelRegistry, registry_root
from training.datasets import parse_genres
from training.metrics import genre_metrics
from training.retrain import retrain
from training.train import GenreData

SEED = 0


@dataclass(frozen=True)
class Cover:
    path: Path
    label: str


@dataclass(frozen=True)
class Checkpoint:
    votes: int
    status: str  # what the retrain at this point did: promoted, rejected, or "start"
    model: str
    base_top1: float  # the served model on the base validation split (every source in the base features)
    held_out_top1: float | None  # on held-out covers of the source whose label is a base genre
    held_out_n: int
    new_genre_recall: float | None  # the new genre's held-out covers called by it
    new_genre_n: int
    reason: str = ""
    base_top1_by_source: dict[str, float] = field(default_factory=dict)  # the same split, per labelled set


@dataclass
class Simulation:
    labels: str
    column: str
    genre: str | None
    voted: int
    held_out: int
    checkpoints: list[Checkpoint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_covers(labels: Path, images: Path, column: str, known: list[str], genre: str | None) -> list[Cover]:
    """One label per usable row: the new `genre` when the column names it, else a known base genre."""
    covers = []
    with labels.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            values = parse_genres((row.get(column) or "").replace("|", ";"))
            if genre is not None:
                label = genre if genre in values else None
            else:
                label = next((g for g in sorted(values) if g in known), None)
            path = images / row["file"]
            if label is not None and path.is_file():
                covers.append(Cover(path, label))
    return covers


def simulate(labels: Path, images: Path, votes: int, *, column: str = "genres", genre: str | None = None,
             step: int = 50, min_covers: int = 25, seed: int = SEED, base_features: Path | None = None,
             progress: bool = False) -> Simulation:
    return asyncio.run(_simulate(labels, images, votes, column=column, genre=genre, step=step,
                                 min_covers=min_covers, seed=seed, base_features=base_features, progress=progress))


async def _simulate(labels: Path, images: Path, votes: int, *, column: str, genre: str | None, step: int,
                    min_covers: int, seed: int, base_features: Path | None, progress: bool) -> Simulation:
    from bot.replies import (
        Requester,  # the simulation plays a chat user (see the module docstring)
    )
    from bot.service import open_service
    from bot.settings import load_settings
    from models.predictor import Predictor

    predictor = Predictor.load(artifacts.SHIPPED_DIR)
    covers = read_covers(labels, images, column, list(predictor.genres), genre)
    random.Random(seed).shuffle(covers)
    voted, held_out = covers[:votes], covers[votes:]
    if not voted:
        raise ValueError(f"{labels}: no usable rows for column {column!r}" + (f" naming {genre}" if genre else ""))
    base = GenreData.load(base_features or artifacts.BASE_FEATURES)
    held_vectors = _vectors(predictor, held_out)
    held_texts = _texts(predictor, held_out)
    sim = Simulation(str(labels), column, genre, len(voted), len(held_out))
    with tempfile.TemporaryDirectory(prefix="sleeve-simulation-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = load_settings(_env_file=None, DATA_DIR=data_dir, USER_RATE=0, CHANNEL_RATE=0)
        sim.checkpoints.append(_score("start", predictor.artifact, 0, base, held_vectors, held_texts, held_out, genre))
        async with open_service(settings, predictor=predictor) as service:
            for n, cover in enumerate(voted, 1):
                who = Requester("console", f"simulated-{n}")
                reply = await service.guess(who=who, image=cover.path.read_bytes())
                if reply.prediction_id is None:
                    continue
                await service.attach_message(reply.prediction_id, f"sim-{n}")
                await service.vote("console", f"sim-{n}", f"voter-{n}", cover.label)
                if n % step == 0 or n == len(voted):
                    result = await asyncio.to_thread(
                        retrain, data_dir / "sleeve.db", data_dir, progress=False, base_features=base_features,
                        new_genres="auto", new_genre_min_covers=min_covers)
                    served = ModelRegistry(registry_root(data_dir)).current(predictor.extractor.spec)[2]
                    point = _score(result.status, served, n, base, held_vectors, held_texts, held_out, genre,
                                   result.reason)
                    sim.checkpoints.append(point)
                    if progress:
                        print(f"{n} votes: {point.status}, base {point.base_top1:.3f}, held-out "
                              f"{point.held_out_top1}, new genre recall {point.new_genre_recall}", flush=True)
    return sim


def _vectors(predictor: Any, covers: list[Cover]) -> np.ndarray:
    from models.image import load_image

    if not covers:
        return np.zeros((0, 0), np.float32)
    features = predictor.extractor.extract([load_image(c.path.read_bytes()) for c in covers])
    return np.stack([f.vector() for f in features]).astype(np.float32)


def _texts(predictor: Any, covers: list[Cover]) -> list[str]:
    """What each cover reads, as the bot read it (cached like training's readings); blank for an image-only model."""
    if not predictor.reads_text or predictor.reader is None:
        return [""] * len(covers)
    from training.reading import read_texts

    return [r.text for r in read_texts([c.path for c in covers], reader=predictor.reader, progress=False)]


def _score(status: str, model: artifacts.Artifact, votes: int, base: GenreData, held_vectors: np.ndarray,
           held_texts: list[str], held_out: list[Cover], genre: str | None, reason: str = "") -> Checkpoint:
    """Scores the served model as it serves: image and read text (a model that reads covers blends both)."""
    genre_model = model.genre
    val = base.validation_rows
    proba = genre_model.predict_proba(base.vectors[val], base.texts_of(val))
    truth = [base.label_sets[i] for i in val]
    base_top1 = genre_metrics(proba, truth, genre_model.genres)["top1"]
    by_source = {}
    for source in dict.fromkeys(base.sources[i] for i in val):
        rows = [k for k, i in enumerate(val) if base.sources[i] == source]
        if source and len(rows) < len(val):
            by_source[source] = float(genre_metrics(proba[rows], [truth[k] for k in rows], genre_model.genres)["top1"])
    old = [i for i, c in enumerate(held_out) if c.label in base.genres]
    held_top1 = None
    if old:
        held_top1 = genre_metrics(genre_model.predict_proba(held_vectors[old], [held_texts[i] for i in old]),
                                  [frozenset({held_out[i].label}) for i in old], genre_model.genres)["top1"]
    new = [i for i, c in enumerate(held_out) if genre is not None and c.label == genre]
    recall = None
    if new:
        top = genre_model.predict_proba(held_vectors[new], [held_texts[i] for i in new]).argmax(axis=1)
        recall = float(np.mean([genre_model.genres[i] == genre for i in top]))
    return Checkpoint(votes, status, model.version, float(base_top1), held_top1, len(old), recall, len(new), reason,
                      by_source)


def format_report(sim: Simulation) -> str:
    lines = [f"{sim.labels} ({sim.column}{', new genre ' + sim.genre if sim.genre else ''}): "
             f"{sim.voted} covers voted, {sim.held_out} held out"]
    for p in sim.checkpoints:
        held = "—" if p.held_out_top1 is None else f"{p.held_out_top1:.3f} (n={p.held_out_n})"
        recall = "" if p.new_genre_recall is None else f", {sim.genre} recall {p.new_genre_recall:.3f} (n={p.new_genre_n})"
        lines.append(f"  {p.votes:>4} votes  {p.status:<9} base top-1 {p.base_top1:.3f}, held-out top-1 {held}{recall}")
    return "\n".join(lines)


def plot(simulations: list[Simulation], out: Path) -> Path:
    """The votes -> accuracy curve (needs matplotlib: the train extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    for sim in simulations:
        x = [p.votes for p in sim.checkpoints]
        name = sim.genre or f"{Path(sim.labels).parent.name} ({sim.column})"
        axes.plot(x, [p.base_top1 for p in sim.checkpoints], "o-", label=f"{name}: base validation top-1")
        if any(p.held_out_top1 is not None for p in sim.checkpoints):
            held = [np.nan if p.held_out_top1 is None else p.held_out_top1 for p in sim.checkpoints]
            axes.plot(x, held, "s-", label=f"{name}: held-out top-1")
        if sim.genre:
            recall = [np.nan if p.new_genre_recall is None else p.new_genre_recall for p in sim.checkpoints]
            axes.plot(x, recall, "^-", label=f"{sim.genre} recall (held out)")
    axes.set_xlabel("votes")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
