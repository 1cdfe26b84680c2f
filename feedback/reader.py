"""People's votes as training rows, for the retrain job: read-only stdlib sqlite3 on the bot's file.

`predictions` holds each answered cover with its feature vector (`records.FEATURE_DTYPE` blob) and
tags (JSON [[tag, score], ...]); `votes` holds one row per prediction and voter.

One cover, one row: predictions of the same image (same `image_sha256`) are pooled, each voter
counting once (their latest vote; `labels.pool_votes`, as /stats does). The label comes from
`labels.label_from_votes`
(min votes, admin weight, strict plurality); votes for genres the model does not know are
suggestions, counted and reported but never labels.

Spotify: covers that came from Spotify are left out unless `include_spotify` is set (Spotify's
Developer Policy forbids training machine-learning models on Spotify content; the operator may opt
in with RETRAIN_INCLUDE_SPOTIFY=true). A cover is left out when *any* of its predictions came from
Spotify, since the pixels are the same: that includes predictions nobody voted on (a cover first
judged from a Spotify link, then uploaded and voted on, stays out).

Held-out slice: a cover is held out for evaluation when a hash of its image_sha256 falls below
`held_out_share` (20 %). The slice is the same on every retrain, grows as votes come in, and
a cover posted twice cannot land on both sides.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from feedback.labels import Suggestion, Vote, label_from_votes, suggested_genres
from feedback.records import FEATURE_DTYPE, VOTES_SQL, decode_features, pooled_votes

HELD_OUT_SHARE = 0.2
_SALT = b"sleeve-feedback-holdout:"


@dataclass
class FeedbackSet:
    """Labelled covers: rows of `vectors` line up with the other fields."""

    vectors: np.ndarray  # float32 (n, dim)
    label_sets: list[frozenset[str]]  # one genre each
    prediction_ids: list[int]  # the newest prediction of each cover
    image_sha256: list[str]
    tags: list[dict[str, float]]
    texts: list[str] = field(default_factory=list)  # what each cover read ("" for rows stored before reading)

    def __len__(self) -> int:
        return len(self.label_sets)

    @classmethod
    def empty(cls, dim: int) -> FeedbackSet:
        return cls(np.zeros((0, dim), np.float32), [], [], [], [], [])


@dataclass
class FeedbackCounts:
    voted_covers: int = 0  # covers with at least one vote, before any exclusion
    labelled: int = 0  # train + held_out
    train: int = 0
    held_out: int = 0
    unlabelled: int = 0  # too few votes for a known genre, or a tie
    suggestion_votes: int = 0  # votes for genres the model does not know
    suggestions: dict[str, int] = field(default_factory=dict)  # genre -> distinct covers
    spotify_excluded: int = 0  # voted covers left out because they came from Spotify
    wrong_dimension: int = 0  # voted covers whose feature vector does not fit the base features

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Feedback:
    train: FeedbackSet
    held_out: FeedbackSet
    counts: FeedbackCounts
    fingerprint: str  # sha256 over (image, label) of every labelled cover: same votes, same value
    suggested: list[Suggestion] = field(default_factory=list)  # unknown genres, most covers first


def is_held_out(image_sha256: str, share: float = HELD_OUT_SHARE) -> bool:
    digest = hashlib.sha256(_SALT + image_sha256.encode()).digest()
    return int.from_bytes(digest[:8], "big") < share * 2**64


def connect_read_only(db_path: str | Path) -> sqlite3.Connection:
    """A read-only connection (URI mode=ro); FileNotFoundError when there is no database."""
    path = Path(db_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no feedback database at {path} (the bot creates it on its first start)")
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5.0)
    conn.row_factory = sqlite3.Row
    return conn


def approved_genres(db_path: str | Path) -> list[str]:
    """Genres an admin approved as new classes (`/genres approve NAME`), by name."""
    conn = connect_read_only(db_path)
    try:
        return [row["name"] for row in conn.execute("SELECT name FROM genre_approvals ORDER BY approved")]
    finally:
        conn.close()


def load_feedback(
    db_path: str | Path,
    genres: list[str],
    dim: int,
    *,
    include_spotify: bool = False,
    min_votes: int = 1,
    admin_weight: float = 1.0,
    held_out_share: float = HELD_OUT_SHARE,
) -> Feedback:
    """Labelled covers split into train and held-out rows, with counts of everything left out."""
    conn = connect_read_only(db_path)
    try:
        conn.execute("BEGIN")  # one snapshot for both queries, while the bot goes on writing
        # `from_spotify`: the image was judged from a Spotify link at least once, voted on or not
        # (an uncorrelated IN subquery: SQLite builds the set of Spotify images once).
        # read_text came with migration 0002; a database the bot has not opened since lacks it.
        columns = {row[1] for row in conn.execute("PRAGMA table_info(predictions)")}
        read_text = "read_text" if "read_text" in columns else "NULL AS read_text"
        predictions = conn.execute(
            f"SELECT id, platform, source_kind, image_sha256, tags, features, {read_text}, "
            "image_sha256 IN (SELECT image_sha256 FROM predictions WHERE source_kind = 'spotify') AS from_spotify "
            "FROM predictions p "
            "WHERE EXISTS (SELECT 1 FROM votes v WHERE v.prediction_id = p.id) ORDER BY id"
        ).fetchall()
        votes = conn.execute(VOTES_SQL).fetchall()
        conn.execute("COMMIT")
    finally:
        conn.close()
    return build_feedback(predictions, votes, genres, dim, include_spotify=include_spotify,
                          min_votes=min_votes, admin_weight=admin_weight, held_out_share=held_out_share)


def build_feedback(predictions, votes, genres: list[str], dim: int, *, include_spotify: bool, min_votes: int,
                   admin_weight: float, held_out_share: float) -> Feedback:
    known = set(genres)
    # Each cover's predictions (newest last) and its voters' latest votes.
    covers: dict[str, list] = {}
    for row in predictions:
        covers.setdefault(row["image_sha256"], []).append(row)
    ballots = pooled_votes({row["id"]: row["image_sha256"] for row in predictions}, votes)

    counts = FeedbackCounts(voted_covers=len(covers))
    included: list[list[Vote]] = []  # the ballots of covers not left out, for the suggestions
    sets = {True: _Builder(), False: _Builder()}
    fingerprint = hashlib.sha256()
    for sha in sorted(covers, key=lambda s: covers[s][-1]["id"]):
        rows = covers[sha]
        if not include_spotify and any(_from_spotify(row) for row in rows):
            counts.spotify_excluded += 1
            continue
        cover_votes = ballots.get(sha, [])
        included.append(cover_votes)
        newest = rows[-1]
        blob = newest["features"]
        if len(blob) != dim * FEATURE_DTYPE.itemsize:
            counts.wrong_dimension += 1
            continue
        label = label_from_votes(cover_votes, known, min_votes=min_votes, admin_weight=admin_weight)
        if label is None:
            counts.unlabelled += 1
            continue
        fingerprint.update(f"{sha}\t{label}\n".encode())
        vector = decode_features(blob)
        sets[is_held_out(sha, held_out_share)].add(vector, label, newest["id"], sha, _tags(newest["tags"]),
                                                   _text(newest))
    suggested = suggested_genres(included, genres)
    counts.suggestions = {s.name: s.covers for s in suggested}
    counts.suggestion_votes = sum(s.votes for s in suggested)
    train, held_out = sets[False].build(dim), sets[True].build(dim)
    counts.train, counts.held_out = len(train), len(held_out)
    counts.labelled = counts.train + counts.held_out
    return Feedback(train, held_out, counts, fingerprint.hexdigest(), suggested)


class _Builder:
    def __init__(self) -> None:
        self.vectors: list[np.ndarray] = []
        self.labels: list[frozenset[str]] = []
        self.ids: list[int] = []
        self.shas: list[str] = []
        self.tags: list[dict[str, float]] = []
        self.texts: list[str] = []

    def add(self, vector: np.ndarray, label: str, prediction_id: int, sha: str, tags: dict[str, float],
            text: str = "") -> None:
        self.texts.append(text)
        self.vectors.append(vector)
        self.labels.append(frozenset({label}))
        self.ids.append(prediction_id)
        self.shas.append(sha)
        self.tags.append(tags)

    def build(self, dim: int) -> FeedbackSet:
        if not self.vectors:
            return FeedbackSet.empty(dim)
        return FeedbackSet(np.stack(self.vectors), self.labels, self.ids, self.shas, self.tags, self.texts)


def _text(row) -> str:
    try:
        return row["read_text"] or ""
    except (IndexError, KeyError):  # rows built without the column (tests, old callers)
        return ""


def _from_spotify(row: sqlite3.Row) -> bool:
    """This prediction came from Spotify, or any prediction of the same image did (`from_spotify`)."""
    return row["source_kind"] == "spotify" or bool(row["from_spotify"])


def _tags(text: str) -> dict[str, float]:
    try:
        return {str(tag): float(score) for tag, score in json.loads(text)}
    except (TypeError, ValueError):
        return {}
