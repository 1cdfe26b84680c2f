"""Retrain results as `python -m training retrain --json` makes them, for the front ends' tests."""

from __future__ import annotations

from training.promotion import PairedTest
from training.result import Counts, RetrainResult, Scores, Split

PAIRED = PairedTest(n=560, challenger_only=30, champion_only=12, difference=0.032, low=0.009, high=0.055,
                    p_value=0.008, verdict="better")
PROMOTED = RetrainResult(
    status="promoted", promoted=True, reason="all covers: top-1 +3.2 points: significantly better",
    champion="shipped", champion_version="v20261122-044653", counts=Counts(base_validation=500, feedback_held_out=60),
    version="v20261201-120000", run_id=4,
    base_validation=Split(Scores(500, 0.612, 0.8, 0.58), Scores(500, 0.614, 0.81, 0.6)),
    feedback_held_out=Split(Scores(60, 0.4, 0.6, 0.3), Scores(60, 0.65, 0.8, 0.55)),
    paired=PAIRED,
)
REJECTED = RetrainResult(
    status="rejected", promoted=False, reason="no labelled feedback to learn from: nothing was fitted",
    champion="v1", champion_version="v1", counts=Counts(), run_id=5,
)
