"""`python -m training tag-report`: the tagger's numbers against the issue's targets.

    python -m training tag-report --data ../shared/data/covers-discogs5 --check ../shared/data/covers-spotify-fresh

Scores every cover (network passes cached per cover under .cache/covers), splits the labelled set
with the same seeded split as training, and prints: tags carried by >= 1 % of training covers,
tags per validation cover (and those that are not colour/light words), the tags-only genre
classifier (tag scores -> logistic regression, C by 5-fold CV on training covers) on validation and
on the check set, distinctive tags per genre (top-N over training covers), and tagging time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from models.descriptors import describe
from models.embedder import Embedder
from models.features import FeatureExtractor, shrink
from models.image import load_image
from models.tagger import MIN_SCORE, all_scores, is_colour_or_light
from models.text_tags import text_scores
from training.cover_cache import CoverCache
from training.datasets import Sample, load_samples
from training.extract import read_batch, tag_matrix
from training.metrics import genre_metrics
from training.reading import read_texts
from training.splits import SEED, expand_multilabel, validation_mask
from training.train import CACHE_DIR, distinctive_of

BATCH = 32
COMMON_SHARE = 0.01


@dataclass
class ScoredSet:
    samples: list[Sample]
    scores: list[dict[str, float]]


def score_samples(samples: Sequence[Sample], extractor: FeatureExtractor, cache_dir: Path | None = CACHE_DIR,
                  progress: bool = True, read: bool = True) -> ScoredSet:
    """Every readable cover's tag scores (recomputed from cached network outputs: cheap), with the
    text tags of what it reads unless read=False."""
    cache = CoverCache(extractor, cache_dir)
    kept: list[Sample] = []
    scores: list[dict[str, float]] = []
    for start in range(0, len(samples), BATCH):
        batch, blobs, images, _ = read_batch(samples[start:start + BATCH])
        for sample, features in zip(batch, cache.extract(blobs, images), strict=True):
            kept.append(sample)
            scores.append(all_scores(features.descriptors, features.logits, features.region_logits))
        if progress:
            print(f"\rscored {min(start + BATCH, len(samples))}/{len(samples)}", end="", flush=True)
    if progress:
        print()
    if read:  # the text tags (models.text_tags) count too; readings come from the OCR cache
        for found, reading in zip(scores, read_texts([s.path for s in kept], cache_dir, progress=progress), strict=True):
            found.update(text_scores(reading))
    return ScoredSet(kept, scores)


def tags_only_classifier(train: np.ndarray, train_labels: list[frozenset[str]], genres: list[str]):
    """The seed method: logistic regression on tag scores; C by 5-fold CV on training covers only."""
    x, y = expand_multilabel(train, train_labels, genres)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=SEED)),
        {"logisticregression__C": [0.003, 0.01, 0.03, 0.1, 0.3]},
        cv=StratifiedKFold(5, shuffle=True, random_state=SEED), n_jobs=1,
    )
    search.fit(x, y)
    return search.best_estimator_, float(search.best_params_["logisticregression__C"])


def _tagging_times(samples: Sequence[Sample], embedder: Embedder, n: int) -> dict[str, float]:
    """Median milliseconds per cover, on one thread, of what the tagger adds to a prediction: the
    region head (pooling + classifier weights on the windows of the feature map, no extra network
    pass), the style measures and face check inside describe(), and all_scores() itself."""
    parts: dict[str, list[float]] = {"regions": [], "style": [], "scores": []}
    fmap = np.random.default_rng(SEED).random((1, Embedder.DIM, 7, 7), dtype=np.float32)
    for sample in samples[:n]:
        image = shrink(load_image(sample.path.read_bytes()))
        _, logits, _ = embedder.embed_regions([image])
        t0 = time.perf_counter()
        regions = embedder.region_logits(fmap)[0]
        t1 = time.perf_counter()
        described = describe(image)
        t2 = time.perf_counter()
        describe(image, style=False)
        t3 = time.perf_counter()
        all_scores(described, logits[0], regions)
        t4 = time.perf_counter()
        parts["regions"].append(1000 * (t1 - t0))
        parts["style"].append(1000 * ((t2 - t1) - (t3 - t2)))
        parts["scores"].append(1000 * (t4 - t3))
    medians = {name: statistics.median(values) for name, values in parts.items()}
    return {**medians, "total": sum(medians.values()), "n": len(parts["scores"])}


def tagging_times(samples: Sequence[Sample], embedder: Embedder, n: int = 100) -> dict[str, float]:
    with threadpool_limits(1):  # "on one thread": numpy's BLAS would otherwise use every core
        return _tagging_times(samples, embedder, n)


def report(data: Path, check: Path | None, top_n: int = 25, progress: bool = True, read: bool = True) -> dict:
    embedder = Embedder(threads=1)
    extractor = FeatureExtractor(embedder)
    labelled = score_samples([s for s in load_samples(data) if s.genres], extractor, progress=progress, read=read)
    label_sets = [s.genres for s in labelled.samples]
    genres = sorted(set().union(*label_sets))
    validation = validation_mask(label_sets)
    train_rows, val_rows = np.where(~validation)[0], np.where(validation)[0]
    vocabulary = sorted(set().union(*(labelled.scores[i] for i in train_rows)))
    matrix = tag_matrix(labelled.scores, vocabulary)
    carried = matrix >= MIN_SCORE
    common = [vocabulary[j] for j in np.where(carried[train_rows].mean(axis=0) >= COMMON_SHARE)[0]]
    per_cover = carried[val_rows].sum(axis=1)
    not_colour = np.array([not is_colour_or_light(t) for t in vocabulary])
    per_cover_other = carried[val_rows][:, not_colour].sum(axis=1)

    model, c = tags_only_classifier(matrix[train_rows], [label_sets[i] for i in train_rows], genres)
    classifier: dict[str, Any] = {"C": c, "validation": _brief(genre_metrics(
        model.predict_proba(matrix[val_rows]), [label_sets[i] for i in val_rows], genres))}
    result: dict[str, Any] = {
        "covers": {"train": int(len(train_rows)), "validation": int(len(val_rows))},
        "vocabulary": len(vocabulary),
        "tags_on_1pct_of_training_covers": len(common),
        "tags_per_validation_cover": float(per_cover.mean()),
        "non_colour_light_tags_per_validation_cover": float(per_cover_other.mean()),
        "validation_covers_with_2_or_fewer_tags": float((per_cover <= 2).mean()),
        "tags_only_classifier": classifier,
    }
    if check is not None:
        checked = score_samples([s for s in load_samples(check) if s.genres & set(genres)], extractor, progress=progress,
                                read=read)
        probabilities = model.predict_proba(tag_matrix(checked.scores, vocabulary))
        classifier["check"] = _brief(genre_metrics(probabilities, [s.genres for s in checked.samples], genres))
    distinctive = distinctive_of(matrix[train_rows], [label_sets[i] for i in train_rows], vocabulary, genres, top_n)
    result["distinctive"] = {
        g: {"n": len(found), "colour_or_light": sum(is_colour_or_light(t.tag) for t in found),
            "tags": [f"{t.tag} ×{t.lift:.1f}" for t in found]}
        for g, found in distinctive.items()
    }
    result["tagging_ms_per_cover"] = tagging_times(labelled.samples, embedder)
    return result


def _brief(metrics: dict) -> dict:
    return {k: metrics[k] for k in ("n", "top1", "top2", "macro_f1")}


def format_report(result: dict) -> str:
    lines = [
        f"covers: {result['covers']['train']} train / {result['covers']['validation']} validation",
        f"vocabulary: {result['vocabulary']} tags; carried by >= 1 % of training covers: "
        f"{result['tags_on_1pct_of_training_covers']} (target >= 120)",
        f"tags per validation cover: {result['tags_per_validation_cover']:.2f} (target >= 6), of them not colour/light: "
        f"{result['non_colour_light_tags_per_validation_cover']:.2f} (target >= 3); covers with <= 2 tags: "
        f"{result['validation_covers_with_2_or_fewer_tags']:.1%}",
    ]
    clf = result["tags_only_classifier"]
    line = f"tags-only classifier (C={clf['C']}): validation top-1 {clf['validation']['top1']:.3f} top-2 {clf['validation']['top2']:.3f} (target >= 0.42)"
    if "check" in clf:
        line += f"; check set (n={clf['check']['n']}) top-1 {clf['check']['top1']:.3f} top-2 {clf['check']['top2']:.3f}"
    lines.append(line)
    for genre, d in result["distinctive"].items():
        lines.append(f"distinctive {genre}: {d['n']} tags, {d['colour_or_light']} colour/light — {', '.join(d['tags'])}")
    t = result["tagging_ms_per_cover"]
    lines.append(f"tagging adds {t['total']:.1f} ms per cover (medians, one thread: region head {t['regions']:.1f}, "
                 f"style {t['style']:.1f}, scores {t['scores']:.1f}; target <= 15)")
    return "\n".join(lines)
