"""From people's votes to training labels, and live accuracy. Pure functions, no I/O.

One cover, one ballot: predictions of the same image (same `image_sha256`) are pooled, and each
voter (platform and id) counts once, with their latest vote (`pool_votes`). Retraining
(`feedback.reader`) and /stats' live accuracy (`feedback.store.Store.voted_covers`) both read
votes this way, so a cover posted twice is one sample in both.

A vote's label is a genre name. The ✅ reaction ("the top guess is right") is sent to the
store as `CONFIRM`, which resolves it to the prediction's top genre at vote time, so every
stored label is a plain genre name and this module never sees `CONFIRM`.

A vote for a genre the model does not know is a *suggestion*: it is stored and reported, but
never becomes a training label and never counts towards one. Suggestions are counted per distinct
cover, so one person posting the same cover ten times is one cover.

Free text from people is cleaned before it is stored or shown (`clean_label`: NFKC, no escape
sequences, control or format characters such as a zero-width space, at most MAX_LABEL_CHARS), and
names that differ only in case, spaces or hyphens are one genre (`genre_key`: "jazz", " Jazz ",
"JAZZ"; "Hip-Hop" is the known genre "HipHop").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONFIRM = "__top__"
MAX_LABEL_CHARS = 40
# ANSI/VT escape sequences (CSI, OSC, and two-character ones): removed whole, not just their ESC.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_DROPPED = {"Cc", "Cf", "Cs", "Co", "Cn"}  # control, format (zero-width space, bidi marks), surrogate, unassigned
_SEPARATORS = re.compile(r"[\s\-_‐-―]+")

__all__ = [
    "CONFIRM",
    "LiveAccuracy",
    "Vote",
    "label_from_votes",
    "live_accuracy",
    "MAX_LABEL_CHARS",
    "NewGenres",
    "Suggestion",
    "genres_to_add",
    "canonical_genre",
    "clean_label",
    "genre_key",
    "pool_votes",
    "suggested_genres",
    "weighted_tally",
]


@dataclass(frozen=True)
class Vote:
    voter_id: str
    label: str
    is_admin: bool = False
    created: float = 0.0  # unix seconds of the voter's latest vote


def clean_label(text: str) -> str:
    """A vote's free text as it may be stored and shown: NFKC; escape sequences, control and format
    characters removed; whitespace runs as one space; at most MAX_LABEL_CHARS characters."""
    text = _ESCAPES.sub("", unicodedata.normalize("NFKC", text))
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _DROPPED)
    return " ".join(text.split())[:MAX_LABEL_CHARS].strip()


def genre_key(name: str) -> str:
    """One key for names that differ only in case, spaces, hyphens or underscores."""
    return _SEPARATORS.sub("", clean_label(name)).casefold()


def canonical_genre(label: str, known: Iterable[str]) -> str | None:
    """The known genre this label names (see `genre_key`), or None."""
    wanted = genre_key(label)
    return next((genre for genre in known if genre_key(genre) == wanted), None) if wanted else None


def pool_votes(cover_of: Mapping[int, str], votes: Iterable[tuple[int, str, Vote]]) -> dict[str, list[Vote]]:
    """Each cover's ballot: one vote per voter, their latest, on any prediction of that cover.

    `cover_of` maps prediction id -> image_sha256; `votes` are (prediction id, platform, vote).
    """
    latest: dict[str, dict[tuple[str, str], Vote]] = {}
    for prediction_id, platform, vote in sorted(votes, key=lambda v: (v[2].created, v[0])):
        sha = cover_of.get(prediction_id)
        if sha is not None:
            latest.setdefault(sha, {})[(platform, vote.voter_id)] = vote
    return {sha: list(ballot.values()) for sha, ballot in latest.items()}


def weighted_tally(votes: Iterable[Vote], known_genres: set[str], admin_weight: float = 1.0) -> Counter[str]:
    """Weight per known genre; admins' votes count `admin_weight` times."""
    tally: dict[str, float] = {}
    for vote in votes:
        genre = canonical_genre(vote.label, known_genres)
        if genre is not None:
            tally[genre] = tally.get(genre, 0.0) + (admin_weight if vote.is_admin else 1.0)
    return Counter(tally)


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
    if sum(canonical_genre(vote.label, known_genres) is not None for vote in votes) < max(min_votes, 1):
        return None
    ranked = weighted_tally(votes, known_genres, admin_weight).most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


@dataclass(frozen=True)
class Suggestion:
    """A genre the model does not know, as people voted for it."""

    name: str  # the spelling people used most, the first seen on a tie (cleaned)
    covers: int  # distinct covers voted with it
    votes: int


def suggested_genres(ballots: Iterable[Sequence[Vote]], known_genres: Iterable[str]) -> list[Suggestion]:
    """Votes for unknown genres, one ballot per cover (`pool_votes`), most covers first."""
    known = list(known_genres)
    covers: Counter[str] = Counter()
    votes: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for ballot in ballots:
        keys = set()
        for vote in ballot:
            key = genre_key(vote.label)
            if not key or vote.label == CONFIRM or canonical_genre(vote.label, known) is not None:
                continue
            keys.add(key)
            votes[key] += 1
            spellings.setdefault(key, Counter())[clean_label(vote.label)] += 1
        covers.update(keys)
    # The most used spelling; on a tie, the first one seen (max keeps the first of equals).
    found = [Suggestion(max(spellings[k].items(), key=lambda item: item[1])[0], covers[k], votes[k]) for k in covers]
    return sorted(found, key=lambda s: (-s.covers, -s.votes, s.name.casefold()))


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


NewGenres = Literal["auto", "admin", "off"]


def genres_to_add(suggestions: Iterable[Suggestion], mode: NewGenres, min_covers: int,
                  approved: Iterable[str] = ()) -> list[str]:
    """The suggested genres the next retrain adds as classes, by NEW_GENRES.

    A suggestion qualifies with at least `min_covers` distinct covers; `auto` adds every qualifying
    one, `admin` only those approved (names or keys, compared by `genre_key`), `off` none.
    """
    if mode == "off":
        return []
    approved_keys = {genre_key(name) for name in approved}
    return [s.name for s in suggestions
            if s.covers >= min_covers and (mode == "auto" or genre_key(s.name) in approved_keys)]
