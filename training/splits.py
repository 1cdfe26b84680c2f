"""The fixed, seeded, stratified validation split and set-valued genre targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

SEED = 20151
VALIDATION_SHARE = 0.2


def primary_genre(genres: frozenset[str]) -> str:
    return sorted(genres)[0]


def validation_mask(label_sets: Sequence[frozenset[str]], seed: int = SEED, share: float = VALIDATION_SHARE) -> np.ndarray:
    """Boolean mask of validation rows, stratified on each cover's primary genre."""
    index = np.arange(len(label_sets))
    strata = [primary_genre(g) for g in label_sets]
    _, val = train_test_split(index, test_size=share, random_state=seed, stratify=strata)
    mask = np.zeros(len(label_sets), dtype=bool)
    mask[val] = True
    return mask


def expand_multilabel(vectors: np.ndarray, label_sets: Sequence[frozenset[str]], genres: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One training row per (cover, genre) pair; genres outside the set are dropped."""
    rows, targets = [], []
    for i, labels in enumerate(label_sets):
        for genre in sorted(labels):
            if genre in genres:
                rows.append(i)
                targets.append(genres.index(genre))
    return vectors[rows], np.array(targets)


def topk_hits(probabilities: np.ndarray, label_sets: Sequence[frozenset[str]], genres: Sequence[str], k: int) -> np.ndarray:
    order = np.argsort(-probabilities, axis=1)[:, :k]
    return np.array([any(genres[j] in labels for j in row) for row, labels in zip(order, label_sets, strict=True)])
