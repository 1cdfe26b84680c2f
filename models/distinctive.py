"""Tags distinctive of a genre, by the method of the 2015 experiment.

Per genre, rank tags by their summed score over that genre's training covers and keep the top N.
A tag is distinctive of a genre when it stands in that genre's top N and in no other genre's.
A genre left with none falls back to its highest-lift tags (share in the genre / share overall).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def genre_totals(scores: np.ndarray, label_sets: Sequence[set[str]], genres: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Summed tag scores per genre (genres × tags) and covers per genre. Multi-genre covers count for each."""
    totals = np.zeros((len(genres), scores.shape[1]), dtype=np.float64)
    counts = np.zeros(len(genres), dtype=np.int64)
    for row, labels in zip(scores, label_sets, strict=True):
        for g, genre in enumerate(genres):
            if genre in labels:
                totals[g] += row
                counts[g] += 1
    return totals, counts


def distinctive_tags(
    totals: np.ndarray,
    counts: np.ndarray,
    vocabulary: Sequence[str],
    genres: Sequence[str],
    top_n: int = 10,
    fallback_k: int = 3,
    min_support: float = 0.02,
) -> dict[str, list[str]]:
    """Genre → its distinctive tags, strongest first."""
    top = [set(np.argsort(-row, kind="stable")[:top_n]) for row in totals]
    result: dict[str, list[str]] = {}
    for g, genre in enumerate(genres):
        others = set().union(*(top[o] for o in range(len(genres)) if o != g))
        picked = [i for i in np.argsort(-totals[g], kind="stable")[:top_n] if i not in others and totals[g, i] > 0]
        if not picked:
            picked = _by_lift(totals, counts, g, fallback_k, min_support)
        result[genre] = [vocabulary[i] for i in picked]
    return result


def _by_lift(totals: np.ndarray, counts: np.ndarray, g: int, k: int, min_support: float) -> list[int]:
    share_in = totals[g] / max(counts[g], 1)
    share_all = totals.sum(axis=0) / max(counts.sum(), 1)
    lift = np.where((share_in >= min_support) & (share_all > 0), share_in / np.maximum(share_all, 1e-12), 0.0)
    order = np.argsort(-lift, kind="stable")
    return [int(i) for i in order[:k] if lift[i] > 1.0]
