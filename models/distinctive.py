"""Tags distinctive of a genre, by the method of the 2015 experiment.

Per genre, rank tags and keep the top N; a tag is distinctive of a genre when it stands in that
genre's top N and in no other genre's. The 2015 experiment ranked by how often a tag occurs; over a
vocabulary of hundreds of words the most frequent ones (monochrome, clothing, face) top every genre
and leave one to six tags per genre (measured on Discogs; share × lift did little better), so
tags are ranked by lift among those with a share of at least `min_share` in the genre: common
enough to matter, and much more common there than overall (rank="share" gives the 2015 ranking).
A genre left with none falls back to its highest-lift tags. Each distinctive tag carries its
share (mean score over the genre's covers), its lift (that share / the share over all covers: 3.1
means three times as common in the genre) and its support (the genre's covers that carry it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DistinctiveTag:
    tag: str
    lift: float | None = None  # None: read from an artifact made before lift was stored
    share: float | None = None
    support: int | None = None

    def to_dict(self) -> dict:
        return {"tag": self.tag, "lift": self.lift, "share": self.share, "support": self.support}

    @classmethod
    def from_json(cls, item: object) -> DistinctiveTag:
        """An entry of tags.json: a plain word (older artifacts) or {tag, lift, share, support}."""
        if isinstance(item, str):
            return cls(item)
        if not isinstance(item, dict) or not isinstance(item.get("tag"), str):
            raise ValueError(f"not a distinctive tag: {item!r}")
        return cls(item["tag"], item.get("lift"), item.get("share"), item.get("support"))


def genre_totals(scores: np.ndarray, label_sets: Sequence[set[str]] | Sequence[frozenset[str]],
                 genres: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Summed tag scores per genre (genres × tags) and covers per genre. Multi-genre covers count for each."""
    totals = np.zeros((len(genres), scores.shape[1]), dtype=np.float64)
    counts = np.zeros(len(genres), dtype=np.int64)
    for row, labels in zip(scores, label_sets, strict=True):
        for g, genre in enumerate(genres):
            if genre in labels:
                totals[g] += row
                counts[g] += 1
    return totals, counts


def lifts(totals: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share, lift) per genre and tag: mean score in the genre, and that over the mean score overall."""
    share = totals / np.maximum(counts, 1)[:, None]
    overall = totals.sum(axis=0) / max(int(counts.sum()), 1)
    lift = np.where(overall > 0, share / np.maximum(overall, 1e-12), 0.0)
    return share, lift


def distinctive_tags(
    totals: np.ndarray,
    counts: np.ndarray,
    vocabulary: Sequence[str],
    genres: Sequence[str],
    top_n: int = 25,
    fallback_k: int = 3,
    min_support: float = 0.02,
    carriers: np.ndarray | None = None,
    rank: str = "lift",
    min_share: float = 0.02,
) -> dict[str, list[DistinctiveTag]]:
    """Genre → its distinctive tags, strongest first. `carriers` (genres × tags): covers per genre
    that carry each tag, stored as support."""
    share, lift = lifts(totals, counts)
    if rank not in ("lift", "share"):
        raise ValueError(f"unknown ranking {rank!r}")
    # Under lift ranking a tag no more common in a genre than overall (lift <= 1) is in no top list.
    strength = np.where((share >= min_share) & (lift > 1.0), lift, 0.0) if rank == "lift" else share
    top = [{int(i) for i in np.argsort(-row, kind="stable")[:top_n] if row[i] > 0} for row in strength]
    result: dict[str, list[DistinctiveTag]] = {}
    for g, genre in enumerate(genres):
        others = set().union(*(top[o] for o in range(len(genres)) if o != g))
        picked = [int(i) for i in np.argsort(-strength[g], kind="stable")[:top_n]
                  if i not in others and strength[g, i] > 0]
        if not picked:
            picked = _by_lift(share[g], lift[g], fallback_k, min_support)
        result[genre] = [
            DistinctiveTag(vocabulary[i], round(float(lift[g, i]), 3), round(float(share[g, i]), 4),
                           None if carriers is None else int(carriers[g, i]))
            for i in picked
        ]
    return result


def _by_lift(share: np.ndarray, lift: np.ndarray, k: int, min_support: float) -> list[int]:
    usable = np.where(share >= min_support, lift, 0.0)
    order = np.argsort(-usable, kind="stable")
    return [int(i) for i in order[:k] if usable[i] > 1.0]
