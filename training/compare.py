"""Compare genre-model recipes on the fixed validation split and a cross-domain set.

`python -m training compare --data DIR --check DIR` prints a Markdown table; the model card's
comparison comes from it. With `--experiments` it prints instead a table of the issue's other
suggestions (training/experiments.py); with `--learning-curve`, accuracy against training covers.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from models.embedder import Embedder
from models.features import FeatureExtractor
from models.genre import Recipe
from training.datasets import load_samples
from training.experiments import EXPERIMENTS, Experiment, Views, fit_experiment, predict_views
from training.extract import FeatureTable, extract
from training.metrics import genre_metrics
from training.splits import SEED, primary_genre
from training.train import CACHE_DIR, GenreData, evaluate_genre, fit_genre, genre_data

RECIPES = {
    "embedding, standardised, RBF SVC (C=10)": Recipe(transform="standard", classifier="svc", C=10.0),
    "embedding, sqrt+L2, RBF SVC (C=3)": Recipe(classifier="svc", C=3.0),
    "embedding + descriptors, standardised, RBF SVC (C=3)": Recipe(blocks=("embedding", "descriptors"), transform="standard", classifier="svc", C=3.0),
    "embedding, standardised, logistic regression (C=0.05)": Recipe(transform="standard", C=0.05),
    "embedding + descriptors, standardised, logistic regression (C=0.05)": Recipe(blocks=("embedding", "descriptors"), transform="standard", C=0.05),
    "embedding, sqrt+L2, logistic regression (C=0.5)": Recipe(C=0.5),
    "embedding, sqrt+L2, logistic regression (C=1)": Recipe(C=1.0),
    "embedding, sqrt+L2, logistic regression (C=2)": Recipe(C=2.0),
}


def _load(data_source: Path, check_source: Path, progress: bool) -> tuple[Embedder, FeatureTable, GenreData, FeatureTable]:
    """The embedder, the labelled set's features and split, and the check set's rows in its genres."""
    embedder = Embedder(threads=2)
    extractor = FeatureExtractor(embedder)
    table = extract(load_samples(data_source), extractor, CACHE_DIR, progress)
    data = genre_data(table, data_source)
    check = extract([s for s in load_samples(check_source) if s.genres & set(data.genres)], extractor, CACHE_DIR, progress)
    return embedder, table, data, check


def compare(data_source: Path, check_source: Path, recipes: dict[str, Recipe] = RECIPES, progress: bool = True) -> list[dict]:
    _, _, data, check = _load(data_source, check_source, progress)
    validation = [data.label_sets[i] for i in data.validation_rows]
    rows = []
    for name, recipe in recipes.items():
        start = time.perf_counter()
        model = fit_genre(data, recipe)
        seconds = time.perf_counter() - start
        own = evaluate_genre(model, data.vectors[data.validation], validation)
        other = evaluate_genre(model, check.vectors, [s.genres for s in check.samples])
        rows.append({"recipe": name, "top1": own["top1"], "top2": own["top2"], "macro_f1": own["macro_f1"],
                     "ece": own["ece"], "check_top1": other["top1"], "fit_seconds": seconds})
    return rows


def compare_experiments(data_source: Path, check_source: Path, experiments: list[Experiment] = EXPERIMENTS,
                        progress: bool = True) -> list[dict]:
    embedder, table, data, check = _load(data_source, check_source, progress)
    # genre_data keeps the covers that carry a genre, in table order
    paths = [s.path for s in table.samples if s.genres]
    own = Views(data.vectors, paths, embedder, CACHE_DIR, progress)
    other = Views(check.vectors, [s.path for s in check.samples], embedder, CACHE_DIR, progress)
    validation = [data.label_sets[i] for i in data.validation_rows]
    rows = []
    for experiment in tqdm(experiments, desc="experiments", disable=not progress):
        start = time.perf_counter()
        model = fit_experiment(experiment, own, data.train_rows, data.label_sets, data.genres)
        seconds = time.perf_counter() - start
        mine = genre_metrics(predict_views(model, experiment, own, data.validation_rows, len(data.genres)),
                             validation, data.genres)
        theirs = genre_metrics(predict_views(model, experiment, other, np.arange(len(check.samples)), len(data.genres)),
                               [s.genres for s in check.samples], data.genres)
        name = experiment.name + _chosen(getattr(model, "best_params_", None))
        rows.append({"recipe": name, "top1": mine["top1"], "top2": mine["top2"], "macro_f1": mine["macro_f1"],
                     "ece": mine["ece"], "check_top1": theirs["top1"], "fit_seconds": seconds})
    return rows


def _chosen(params: dict | None) -> str:
    """' → C=30, gamma=4' for a searched model's parameters (pipeline step prefixes dropped)."""
    if not params:
        return ""
    return " → " + ", ".join(f"{name.split('__')[-1]}={value}" for name, value in params.items())


def learning_curve(data_source: Path, check_source: Path, recipe: Recipe | None = None,
                   shares: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0), repeats: int = 5, progress: bool = True) -> list[dict]:
    """The shipped recipe fitted on seeded, stratified shares of the training covers (same validation
    split): how much more labelled data alone might buy."""
    recipe = recipe or Recipe()
    _, _, data, check = _load(data_source, check_source, progress)
    validation = [data.label_sets[i] for i in data.validation_rows]
    strata = [primary_genre(data.label_sets[i]) for i in data.train_rows]
    rows = []
    for share in shares:
        runs = []
        for repeat in range(repeats if share < 1 else 1):
            picked = data.train_rows if share == 1 else train_test_split(
                data.train_rows, train_size=share, stratify=strata, random_state=SEED + repeat)[0]
            model = fit_genre(data, recipe, rows=np.sort(picked))
            own = evaluate_genre(model, data.vectors[data.validation], validation)
            other = evaluate_genre(model, check.vectors, [s.genres for s in check.samples])
            runs.append((own["top1"], own["top2"], other["top1"]))
        top1, top2, check_top1 = np.mean(runs, axis=0)
        rows.append({"share": share, "covers": len(picked), "runs": len(runs),
                     "top1": top1, "top1_sd": float(np.std([r[0] for r in runs])), "top2": top2, "check_top1": check_top1})
    return rows


def learning_curve_markdown(rows: list[dict]) -> str:
    lines = ["| training covers | runs | top-1 (sd) | top-2 | Spotify top-1 |", "|---|---|---|---|---|"]
    lines += [f"| {r['covers']:,} ({r['share']:.1%}) | {r['runs']} | {r['top1']:.3f} ({r['top1_sd']:.3f}) | {r['top2']:.3f} | "
              f"{r['check_top1']:.3f} |" for r in rows]
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    lines = ["| recipe | top-1 | top-2 | macro-F1 | ECE | Spotify top-1 | fit (s) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['recipe']} | {r['top1']:.3f} | {r['top2']:.3f} | {r['macro_f1']:.3f} | {r['ece']:.3f} | "
              f"{r['check_top1']:.3f} | {r['fit_seconds']:.0f} |" for r in rows]
    return "\n".join(lines)
