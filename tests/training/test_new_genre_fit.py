"""A genre learnt from a few votes is weighted up next to the base genres (training.train._balance_new): class-balanced."""

from __future__ import annotations

import numpy as np

from training.train import _balance_new


def test_new_genre_rows_are_repeated_up_to_the_mean_base_genre_without_a_cap() -> None:
    vectors = np.arange(8, dtype=np.float32).reshape(8, 1)
    targets = np.array([0, 1, 5, 5, 6, 6, 6, 6])  # genres 5 and 6 are new (5 base genres)
    out_x, out_y = _balance_new(vectors, targets, 5, np.array([40, 12, 30, 30, 8]))  # mean 24
    assert np.bincount(out_y, minlength=7).tolist() == [1, 1, 0, 0, 0, 24, 24]  # 2 x 12 and 4 x 6
    assert set(out_x[out_y == 5].ravel()) == {2.0, 3.0}
    _, uncapped = _balance_new(vectors[:3], targets[:3], 5, np.array([400, 400, 400, 400, 400]))
    assert np.bincount(uncapped).tolist()[5] == 400  # no hand-picked cap: one vote weighs a mean genre


def test_a_new_genre_already_as_big_as_the_base_ones_is_not_repeated() -> None:
    vectors, targets = np.ones((4, 2), np.float32), np.array([0, 5, 5, 5])
    _, out_y = _balance_new(vectors, targets, 5, np.array([2, 2, 2, 2, 2]))
    assert out_y.tolist() == [0, 5, 5, 5]


def test_without_new_genres_nothing_changes() -> None:
    vectors, targets = np.ones((3, 2), np.float32), np.array([0, 1, 2])
    out_x, out_y = _balance_new(vectors, targets, 5, np.array([10, 10, 10, 10, 10]))
    assert out_x is vectors and out_y is targets
