"""Evaluate a model on any labelled cover set in the shared format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.predictor import Predictor
from training.datasets import read_labels_csv
from training.extract import extract
from training.metrics import genre_metrics, popularity_metrics
from training.reading import read_texts


def evaluate(labels: Path, images: Path, model_dir: Path | None = None, progress: bool = True,
             predictor: Predictor | None = None) -> dict:
    predictor = predictor or Predictor.load(model_dir)
    samples = read_labels_csv(labels, images)
    table = extract(samples, predictor.extractor, cache_dir=None, progress=progress)
    result: dict = {"model_version": predictor.version, "skipped": len(table.skipped)}
    genre_rows = [i for i, s in enumerate(table.samples) if s.genres & set(predictor.genres)]
    if genre_rows:
        texts = None
        if predictor.reads_text:
            texts = [r.text for r in read_texts([table.samples[i].path for i in genre_rows], progress=progress)]
        probabilities = predictor.predict_vectors(table.vectors[genre_rows], texts)
        metrics = genre_metrics(probabilities, [table.samples[i].genres for i in genre_rows], predictor.genres)
        result.update(metrics)
    else:
        result["n"] = 0
    pop_rows = [i for i, s in enumerate(table.samples) if s.popularity is not None]
    if pop_rows:
        guesses = predictor.artifact.popularity.predict_values(table.vectors[pop_rows])
        truth = np.array([table.samples[i].popularity for i in pop_rows])
        result["popularity"] = popularity_metrics(guesses, truth)
        result.update({k: result["popularity"][k] for k in ("spearman", "mae", "mae_median_baseline")})
    return result


def format_report(result: dict) -> str:
    lines = [f"model {result['model_version']}"]
    if result.get("n"):
        lines += [
            f"covers with a known genre: {result['n']}",
            f"top-1 accuracy: {result['top1']:.3f}",
            f"top-2 accuracy: {result['top2']:.3f}",
            f"macro-F1:       {result['macro_f1']:.3f}",
            "per-genre recall:",
            *(f"  {g:<12} {'n/a' if r is None else f'{r:.3f}'}" for g, r in result["per_genre"].items()),
            "confusion (rows: truth, columns: predicted):",
            format_confusion(result["confusion"]),
        ]
    else:
        lines.append("no covers carry one of the model's genres")
    if "popularity" in result:
        p = result["popularity"]
        rho = "n/a (constant guess)" if p["spearman"] is None else f"{p['spearman']:.3f}"
        lines += [f"popularity on {p['n']} covers: Spearman {rho}, MAE {p['mae']:.2f} "
                  f"(predicting the median: MAE {p['mae_median_baseline']:.2f})"]
    if result.get("skipped"):
        lines.append(f"skipped {result['skipped']} unreadable files")
    return "\n".join(lines)


def format_confusion(confusion: dict) -> str:
    labels = confusion["labels"]
    width = max(len(label) for label in labels) + 2
    header = " " * width + "".join(f"{label[:width - 1]:>{width}}" for label in labels)
    rows = [f"{a:<{width}}" + "".join(f"{v:>{width}}" for v in row) for a, row in zip(labels, confusion["matrix"], strict=True)]
    return "\n".join([header, *rows])
