"""From people's votes to training labels, and live accuracy. Pure functions, no I/O.

Retraining (`training.retrain`) and the bot (`bot.store`, `bot.service`) both use it; it lives in
`training` because `training` must not import `bot` (`bot.labels` re-exports it).

A vote's label is a genre name. The ✅ reaction ("the top guess is right") is sent to the
store as `CONFIRM`, which resolves it to the prediction's top genre at vote time, so every
stored label is a plain genre name and this module never sees `CONFIRM`.

A vote for a genre the model does not know is a *suggestion*: it is stored and reported, but
never becomes a training label and never counts towards one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

CONFIRM = "__top__"

__all__ = [
    "CONFIRM",
    "LiveAccuracy",
    "Vote",
    "label_from_votes",
    "live_accuracy",
    "suggestions",
    "weighted_tally",
]


@dataclass(frozen=True)
class Vote:
    voter_id: str
    label: str
    is_admin: bool = False
    created: float = 0.0  # unix seconds of the voter's latest vote


def weighted_tally(votes: Iterable[Vote], known_genres: set[str], admin_weight: float = 1.0) -> Counter[str]:
    """Weight per known genre; admins' votes count `admin_weight` times."""
    tally: Counter[str] = Counter()
    for vote in votes:
        if vote.label in known_genres:
            tally[vote.label] += admin_weight if vote.is_admin else 1.0  # type: ignore[assignment]  # typeshed: int counts
    return tally


def label_from_votes(
    votes: Iterable[Vote],
    known_genres: set[str],
    min_votes: int = 1,
    admin_weight: float = 1.0,
) -> str | None:
    """The genre with the most (weighted) votes, or None on a tie or too few votes.

    `min_votes` counts voters for known genres, not weight: one admin is still one vote.
    The winner needs strictly more weight than the runner-up (a plurality, not >50 %).
    """
    votes = list(votes)
    if sum(vote.label in known_genres for vote in votes) < max(min_votes, 1):
        return None
    ranked = weighted_tally(votes, known_genres, admin_weight).most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def suggestions(votes: Iterable[Vote], known_genres: set[str]) -> Counter[str]:
    """Votes for genres the model does not know, by genre."""
    return Counter(vote.label for vote in votes if vote.label not in known_genres and vote.label != CONFIRM)


@dataclass(frozen=True)
class LiveAccuracy:
    n: int
    top1: float | None  # None when there is nothing to score
    per_genre: dict[str, tuple[int, int]] = field(default_factory=dict)  # true genre -> (correct, total)


def live_accuracy(rows: Iterable[tuple[str, str]]) -> LiveAccuracy:
    """Top-1 accuracy of the model's top genre against voted labels; rows are (top_genre, label)."""
    correct: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for top_genre, label in rows:
        total[label] += 1
        correct[label] += top_genre == label
    n = sum(total.values())
    per_genre = {genre: (correct[genre], total[genre]) for genre in sorted(total)}
    return LiveAccuracy(n=n, top1=sum(correct.values()) / n if n else None, per_genre=per_genre)
