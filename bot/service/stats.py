"""The numbers behind /stats: store counts, live accuracy of the current model, the queue."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.inference import InferencePool
from bot.service.config import ServiceConfig
from bot.store import Store
from training.labels import label_from_votes, live_accuracy, suggestions


async def collect_stats(store: Store, pool: InferencePool, config: ServiceConfig) -> dict[str, Any]:
    predictor = pool.predictor
    overall = await store.stats()
    current = await store.stats(predictor.version)
    rows = await store.feedback_rows(include_spotify=True)
    known = set(predictor.genres)
    accuracy = live_accuracy(_scored_votes(rows, predictor.version, known, config))
    pending = sum((suggestions(row.votes, known) for row in rows), Counter())
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
        "suggestions": dict(pending.most_common()),
        "last_retrain": None
        if last is None
        else {"status": last.status, "started": last.started, "finished": last.finished,
              "reason": (last.summary or {}).get("reason")},
        "queue": {"pending": pool.pending, "capacity": pool.capacity},
    }


def _scored_votes(rows: list, version: str, known: set[str], config: ServiceConfig) -> list[tuple[str, str]]:
    """(top genre, voted label) for this model version's predictions whose votes settle on a known genre."""
    scored = []
    for row in rows:
        if row.model_version != version:
            continue
        label = label_from_votes(row.votes, known, config.min_votes, config.admin_vote_weight)
        if label is not None:
            scored.append((row.top_genre, label))
    return scored
