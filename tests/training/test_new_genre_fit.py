"""A genre learnt from a few votes is weighted up next to the base genres (training.train._balance_new): class-balanced."""

from __future__ import annotations

import numpy as np

from training.train import _balance_new


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
