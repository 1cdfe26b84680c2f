"""The numbers behind /stats: store counts, live accuracy of the current model, the queue.

Live accuracy reads votes as retraining does: one ballot per cover (image sha256), each voter
once (`feedback.labels.pool_votes`); a cover counts for the served model when that model judged
it, scored on its latest prediction of the cover.
"""

from __future__ import annotations

from typing import Any

from bot.inference import InferencePool
from bot.service.config import ServiceConfig
from feedback.labels import label_from_votes, live_accuracy, suggested_genres
from feedback.records import VotedCover
from feedback.store import Store


async def collect_stats(store: Store, pool: InferencePool, config: ServiceConfig) -> dict[str, Any]:
    predictor = pool.predictor
    overall = await store.stats()
    current = await store.stats(predictor.version)
    covers = await store.voted_covers()
    known = set(predictor.genres)
    accuracy = live_accuracy(scored_covers(covers, predictor.version, known, config))
    pending = suggested_genres((cover.votes for cover in covers), known)
    last = overall.last_retrain
    return {
        "model_version": predictor.version,
        "genres": list(predictor.genres),
        "predictions": overall.predictions,
        "votes": overall.votes,
        "voters": overall.voters,
        "predictions_this_model": current.predictions,
        "live_accuracy": {
            "n": accuracy.n,
            "top1": accuracy.top1,
            "per_genre": {g: {"correct": c, "total": t} for g, (c, t) in accuracy.per_genre.items()},
        },
        "suggestions": {s.name: s.covers for s in pending},  # genre -> distinct covers
        "last_retrain": None
        if last is None
        else {"status": last.status, "started": last.started, "finished": last.finished,
              "reason": (last.summary or {}).get("reason")},
        "queue": {"pending": pool.pending, "capacity": pool.capacity},
    }


def scored_covers(
    covers: list[VotedCover], version: str, known: set[str], config: ServiceConfig
) -> list[tuple[str, str]]:
    """(top genre, voted label) for the covers this model version judged whose votes settle on a known genre."""
    scored = []
    for cover in covers:
        top = cover.top_genre_by(version)
        if top is None:
            continue
        label = label_from_votes(cover.votes, known, config.min_votes, config.admin_vote_weight)
        if label is not None:
            scored.append((top, label))
    return scored
