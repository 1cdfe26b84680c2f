"""Genre and popularity metrics with set-valued labels (right = one of the cover's genres)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import f1_score

from training.splits import topk_hits


def credited_truth(predicted: Sequence[str], label_sets: Sequence[frozenset[str]], genres: Sequence[str]) -> list[str]:
    """For F1 and confusion: the predicted genre when it is in the set, else the set's first known genre."""
    known = set(genres)
    return [p if p in labels else sorted(labels & known)[0] for p, labels in zip(predicted, label_sets, strict=True)]


def genre_metrics(probabilities: np.ndarray, label_sets: Sequence[frozenset[str]], genres: Sequence[str]) -> dict:
    predicted = [genres[i] for i in probabilities.argmax(axis=1)]
    truth = credited_truth(predicted, label_sets, genres)
    top1 = topk_hits(probabilities, label_sets, genres, 1)
    per_genre = {}
    for genre in genres:
        rows = [i for i, labels in enumerate(label_sets) if genre in labels]
        per_genre[genre] = float(np.mean([predicted[i] == genre or predicted[i] in label_sets[i] for i in rows])) if rows else None
    confusion = [[sum(1 for t, p in zip(truth, predicted, strict=True) if t == a and p == b) for b in genres] for a in genres]
    return {
        "n": len(label_sets),
        "top1": float(top1.mean()),
        "top2": float(topk_hits(probabilities, label_sets, genres, min(2, len(genres))).mean()),
        "macro_f1": float(f1_score(truth, predicted, labels=list(genres), average="macro", zero_division=0)),
        "per_genre": per_genre,
        "confusion": {"labels": list(genres), "matrix": confusion},
        "ece": expected_calibration_error(probabilities.max(axis=1), top1),
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)


def popularity_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict:
    rho = spearmanr(predicted, truth).statistic if np.ptp(predicted) > 1e-9 else float("nan")
    return {
        "n": int(len(truth)),
        "spearman": None if np.isnan(rho) else float(rho),
        "mae": float(np.mean(np.abs(predicted - truth))),
        "mae_median_baseline": float(np.mean(np.abs(truth - np.median(truth)))),
    }
