"""A genre learnt from a few votes is weighted up next to the base genres (training.train._balance_new)."""

from __future__ import annotations

import numpy as np

from training.train import _balance_new


def test_new_genre_rows_are_repeated_up_to_the_smallest_base_genre_at_most_ten_times() -> None:
    targets = np.array([0, 1, 5, 5, 6, 6, 6, 6])  # genres 5 and 6 are new (5 base genres)
    rows = _balance_new(targets, 5, np.array([40, 12, 30, 30, 30]))
    assert np.bincount(targets[rows], minlength=7).tolist() == [1, 1, 0, 0, 0, 12, 12]  # 2 x 6 and 4 x 3
    assert set(rows[targets[rows] == 5].tolist()) == {2, 3}
    capped = _balance_new(targets[:3], 5, np.array([400, 400, 400, 400, 400]))
    assert np.bincount(targets[:3][capped]).tolist()[5] == 10


def test_without_new_genres_nothing_changes() -> None:
    targets = np.array([0, 1, 2])
    assert _balance_new(targets, 5, np.array([10, 10, 10, 10, 10])).tolist() == [0, 1, 2]
