"""The typed retrain result as plain text (console and Telegram print this)."""

from __future__ import annotations

from dataclasses import replace

from bot.render_retrain import render_retrain
from tests.bot.retrain_results import PROMOTED, REJECTED
from training.result import NewGenre, RetrainResult


def test_a_promoted_result_shows_the_difference_with_its_interval_and_the_table() -> None:
    lines = render_retrain(PROMOTED).splitlines()
    assert lines[:3] == [
        "Retraining: promoted",
        "✅ Promoted v20261201-120000: it is answering now.",
        "New vs old top-1: +3.2 points (95% CI +0.9 to +5.5; McNemar p = 0.008, 560 covers) — better",
    ]
    rows = {line.split("  ")[0]: line.split()[-2:] for line in lines[4:-1]}
    assert rows["base validation top-1"] == ["0.612", "0.614"] and rows["held-out votes top-1"] == ["0.400", "0.650"]
    assert lines[-1] == "Decision: all covers: top-1 +3.2 points: significantly better"


def test_a_run_that_fitted_nothing_says_why_and_shows_no_table() -> None:
    assert render_retrain(REJECTED).splitlines() == [
        "Retraining: kept the current model",
        "The current model (v1) stays.",
        "Decision: no labelled feedback to learn from: nothing was fitted",
    ]


def test_the_result_survives_its_json_round_trip() -> None:
    assert RetrainResult.from_json(PROMOTED.to_json()) == PROMOTED
    assert RetrainResult.from_json(REJECTED.to_json()) == REJECTED


def test_a_new_genre_shows_its_recall() -> None:
    result = replace(PROMOTED, new_genres=(NewGenre("Folk", 32, 8, 0.375), NewGenre("Jazz", 25, 0, None)))
    lines = render_retrain(result).splitlines()
    assert "New genre Folk: learnt from 32 voted covers, recall 0.38 on 8 held-out covers" in lines
    assert "New genre Jazz: learnt from 25 voted covers, no held-out votes yet" in lines
    assert RetrainResult.from_json(result.to_json()) == result
