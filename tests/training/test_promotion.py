"""The paired promotion rule on constructed predictions: promote, reject, or call it a tie."""

from __future__ import annotations

import numpy as np
import pytest

from training.promotion import below_floor, decide, paired_test


def hits(n: int, right: set[int] | range) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[list(right)] = True
    return out


def test_a_challenger_right_on_many_more_covers_is_better_and_promoted() -> None:
    champion = hits(400, range(0, 200))
    challenger = hits(400, range(0, 240))  # the same 200, and 40 more: b = 40, c = 0
    test = paired_test(champion, challenger)
    assert (test.challenger_only, test.champion_only, test.verdict) == (40, 0, "better")
    assert test.difference == pytest.approx(0.1) and 0 < test.low < 0.1 < test.high
    assert test.p_value < 1e-6
    promote, reason = decide({"all covers": test})
    assert promote and "significantly better" in reason and "+10.0 points" in reason


def test_a_challenger_wrong_on_many_more_covers_is_worse_and_rejected() -> None:
    champion = hits(400, range(0, 200))
    challenger = hits(400, range(30, 200))  # 30 covers lost, none gained
    test = paired_test(champion, challenger)
    assert test.verdict == "worse" and test.high < 0
    promote, reason = decide({"all covers": test})
    assert not promote and "significantly worse" in reason


def test_swapped_disagreements_are_a_tie_and_a_tie_is_promoted() -> None:
    """Same top-1, different covers right: no evidence either way (what a 1-point threshold misread)."""
    champion = hits(400, range(0, 200))
    challenger = hits(400, range(10, 210))  # b = c = 10
    test = paired_test(champion, challenger)
    assert (test.difference, test.verdict) == (0.0, "tie") and test.p_value == pytest.approx(1.0)
    assert test.low < 0 < test.high
    promote, reason = decide({"all covers": test})
    assert promote and "no significant difference" in reason


def test_a_small_drop_within_the_noise_is_a_tie() -> None:
    champion = hits(750, range(0, 400))
    challenger = hits(750, [*range(8, 400), *range(400, 402)])  # -6 covers net on 750: under a point
    test = paired_test(champion, challenger)
    assert test.verdict == "tie" and decide({"all covers": test})[0]


def test_the_original_model_is_a_floor() -> None:
    tie = paired_test(hits(400, range(0, 200)), hits(400, range(10, 210)))
    far_below_origin = paired_test(hits(400, range(0, 240)), hits(400, range(10, 210)))
    promote, reason = decide({"all covers": tie, "vs the original model base-v1": far_below_origin})
    assert not promote and "significantly worse (vs the original model base-v1)" in reason


def test_a_gain_on_votes_cannot_pay_for_a_loss_on_the_base_genres() -> None:
    base = paired_test(hits(300, range(0, 150)), hits(300, range(30, 150)))  # 30 base covers lost
    pooled = paired_test(hits(360, range(0, 150)), hits(360, [*range(30, 150), *range(300, 330)]))  # and 30 votes won
    assert pooled.verdict == "tie" and base.verdict == "worse"
    promote, reason = decide({"all covers": pooled, "base validation": base})
    assert not promote and "(base validation)" in reason


def test_a_recorded_floor_is_tested_one_sided() -> None:
    assert below_floor(hits(400, range(0, 150)), 0.5)  # 0.375 against 0.5
    assert not below_floor(hits(400, range(0, 195)), 0.5)  # 0.4875: within the noise
    assert not below_floor(np.zeros(0, dtype=bool), 0.5)


def test_the_interval_is_seeded() -> None:
    champion, challenger = hits(300, range(0, 150)), hits(300, range(5, 170))
    assert paired_test(champion, challenger) == paired_test(champion, challenger)
    assert paired_test(champion, challenger, seed=1).low != paired_test(champion, challenger, seed=2).low


def test_covers_must_line_up() -> None:
    with pytest.raises(ValueError):
        paired_test(np.zeros(3, dtype=bool), np.zeros(4, dtype=bool))
