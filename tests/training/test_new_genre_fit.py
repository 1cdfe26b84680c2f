"""A genre learnt from a few votes is weighted up next to the base genres (training.train._balance_new): class-balanced;
the text half is trusted on it by the covers with text it was learnt from (training.train.fit_genre)."""

from __future__ import annotations

import numpy as np

from models.features import vector_size
from models.genre import Recipe
from training.train import GenreData, _balance_new, fit_genre


def test_new_genre_rows_are_repeated_up_to_the_mean_base_genre_without_a_cap() -> None:
    targets = np.array([0, 1, 5, 5, 6, 6, 6, 6])  # genres 5 and 6 are new (5 base genres)
    rows = _balance_new(targets, 5, np.array([40, 12, 30, 30, 8]))  # mean 24
    assert np.bincount(targets[rows], minlength=7).tolist() == [1, 1, 0, 0, 0, 24, 24]  # 2 x 12 and 4 x 6
    assert set(rows[targets[rows] == 5].tolist()) == {2, 3}
    uncapped = _balance_new(targets[:3], 5, np.array([400, 400, 400, 400, 400]))
    assert np.bincount(targets[:3][uncapped]).tolist()[5] == 400  # no hand-picked cap: one vote weighs a mean genre


def test_a_new_genre_already_as_big_as_the_base_ones_is_not_repeated() -> None:
    targets = np.array([0, 5, 5, 5])
    assert _balance_new(targets, 5, np.array([2, 2, 2, 2, 2])).tolist() == [0, 1, 2, 3]


def test_without_new_genres_nothing_changes() -> None:
    targets = np.array([0, 1, 2])
    assert _balance_new(targets, 5, np.array([10, 10, 10, 10, 10])).tolist() == [0, 1, 2]


def test_a_new_genre_gets_text_trust_from_its_voted_covers_with_text_and_base_genres_keep_all() -> None:
    rng = np.random.default_rng(0)
    n = 60
    labels = [frozenset({"Country"}) if i % 2 else frozenset({"HipHop"}) for i in range(n)]
    texts = ["cowboy road" if i % 2 else "gangsta rap" for i in range(n)]
    texts[:10] = [""] * 10  # HipHop: 25 covers with text, Country: 25 as well
    data = GenreData(rng.normal(size=(n, vector_size())).astype(np.float32), labels, np.zeros(n, dtype=bool),
                     ["Country", "HipHop"], [f"{i}.jpg" for i in range(n)], np.zeros((n, 0), np.float32), [], texts)
    votes = rng.normal(size=(8, vector_size())).astype(np.float32)
    model = fit_genre(data, Recipe(text_weight=0.5, text_C=10.0), extra=(votes, [frozenset({"Folk"})] * 8),
                      extra_texts=["fiddle"] * 5 + [""] * 3, new_genres=["Folk"])
    assert model.genres == ["Country", "HipHop", "Folk"]
    np.testing.assert_allclose(model.text_weights, [0.5, 0.5, 0.5 * 5 / 25])  # 5 voted texts, repeated or not
