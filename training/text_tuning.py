"""Choosing the reading half of the genre model by cross-validation on the training covers only.

Out-of-fold image and text probabilities are computed once per fold; the blend weight is then a
cheap search over them. The choice minimises the out-of-fold log loss of "one of the cover's
genres" (a proper score, so the blend stays calibrated); top-1 is reported beside it. Covers that
read the same text (reissues, a series, one label's template) share a fold: split apart, the
held-out copy would be scored on text its twin taught.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from models.genre import Recipe
from models.text_genre import TextModel, blend, has_text, normalise
from training.splits import SEED, expand_multilabel, primary_genre

FOLDS = 5
NGRAMS = ((2, 4), (1, 4), (2, 5))
TEXT_CS = (3.0, 10.0)
WEIGHTS = tuple(round(w, 2) for w in np.arange(0.0, 0.75, 0.05))
# Above 1 as well as below: with weights summing to one the geometric blend is an average of two
# models' log-probabilities, which is under-confident when they carry independent evidence (measured:
# out-of-fold ECE 0.071 at s = 1, confidence below accuracy); s > 1 sharpens it back.
SHARPNESS = (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class TextChoice:
    recipe: Recipe
    cv_log_loss: float
    cv_top1: float
    cv_top1_image_only: float
    grid: list[dict]


def tune_text(data, recipe: Recipe, rows: np.ndarray | None = None) -> TextChoice:
    """data: training.train.GenreData; rows: the covers to cross-validate on (default: its training rows)."""
    rows = data.train_rows if rows is None else rows
    label_sets = [data.label_sets[i] for i in rows]
    texts = data.texts_of(rows)
    has = np.array([has_text(t) for t in texts], dtype=bool)
    folds = text_folds(texts, label_sets)
    n_genres = len(data.genres)
    image = np.zeros((len(rows), n_genres))
    for fit_at, held in folds:
        x, y = expand_multilabel(data.vectors[rows[fit_at]], [label_sets[i] for i in fit_at], data.genres)
        pipeline = recipe.pipeline(SEED).fit(x[:, _columns(recipe)], y)
        image[np.ix_(held, pipeline.classes_)] = pipeline.predict_proba(data.vectors[rows[held]][:, _columns(recipe)])
    truth = np.zeros((len(rows), n_genres), dtype=bool)
    for i, labels in enumerate(label_sets):
        truth[i, [data.genres.index(g) for g in labels if g in data.genres]] = True
    grid: list[dict] = []
    best: tuple[float, dict] | None = None
    for ngram, C in itertools.product(NGRAMS, TEXT_CS):
        text = _out_of_fold_text(texts, label_sets, has, folds, data.genres, ngram, C)
        for weight, sharpness in itertools.product(WEIGHTS, SHARPNESS):
            p = blend(image, text, weight, has, sharpness)
            loss = _log_loss(p, truth)
            row = {"ngram": list(ngram), "C": C, "weight": float(weight), "sharpness": sharpness, "log_loss": loss,
                   "top1": float(truth[np.arange(len(p)), p.argmax(axis=1)].mean())}
            grid.append(row)
            if best is None or loss < best[0]:
                best = (loss, row)
    assert best is not None
    chosen = best[1]
    tuned = replace(recipe, text_weight=float(chosen["weight"]), text_ngram=tuple(chosen["ngram"]), text_C=float(chosen["C"]),
                    text_sharpness=float(chosen["sharpness"]))
    image_top1 = float(truth[np.arange(len(image)), image.argmax(axis=1)].mean())
    return TextChoice(tuned, chosen["log_loss"], chosen["top1"], image_top1, grid)


def text_folds(texts: list[str], label_sets: list[frozenset[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds in which covers reading the same normalised text stay together."""
    groups = [normalise(t) or f"\0{i}" for i, t in enumerate(texts)]  # no text: a group of its own
    splitter = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(texts)), [primary_genre(s) for s in label_sets], groups))


def _out_of_fold_text(texts, label_sets, has, folds, genres, ngram, C) -> np.ndarray:
    out = np.zeros((len(texts), len(genres)))
    for fit_at, held in folds:
        fit_rows = np.array([i for i in fit_at if has[i]], dtype=int)
        index, targets = expand_multilabel(fit_rows, [label_sets[i] for i in fit_rows], genres)
        fit_texts = [texts[i] for i in index]
        held_rows = [i for i in held if has[i]]
        if not held_rows or len(set(targets.tolist())) < 2:
            continue
        model = TextModel(ngram, C, seed=SEED).fit(fit_texts, targets)
        out[held_rows] = model.predict_proba([texts[i] for i in held_rows], len(genres))
    return out


def _log_loss(probabilities: np.ndarray, truth: np.ndarray) -> float:
    right = (probabilities * truth).sum(axis=1)
    return float(-np.log(np.clip(right, 1e-9, 1)).mean())


def _columns(recipe: Recipe) -> np.ndarray:
    from models.features import columns

    return columns(recipe.blocks)
