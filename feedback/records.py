"""What goes into the store and what comes out of it, and how values are encoded in columns."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from feedback.labels import Vote, pool_votes

if TYPE_CHECKING:
    from models.prediction import Prediction

Platform = Literal["discord", "telegram", "console"]
SourceKind = Literal["spotify", "upload", "url", "console"]
RunStatus = Literal["running", "promoted", "rejected", "failed", "crashed"]
Trigger = Literal["manual", "periodic", "cli"]

FEATURE_DTYPE = np.dtype("<f2")  # float16 little-endian halves the blob; plenty for retraining

# Every vote with its voter's platform, oldest first: what `labels.pool_votes` pools by cover.
VOTES_SQL = (
    "SELECT v.prediction_id, v.voter_id, v.label, v.is_admin, v.created, p.platform "
    "FROM votes v JOIN predictions p ON p.id = v.prediction_id ORDER BY v.created, v.prediction_id"
)


@dataclass(frozen=True)
class PredictionRecord:
    platform: Platform
    source_kind: SourceKind
    source_ref: str
    image_sha256: str
    model_version: str
    probabilities: dict[str, float]
    popularity: float
    tags: list[tuple[str, float]]
    features: np.ndarray = field(repr=False)
    server_id: str | None = None
    channel_id: str | None = None
    message_id: str | None = None
    requester_id: str | None = None
    read_text: str = ""  # what the cover reads

    @property
    def top_genre(self) -> str:
        if not self.probabilities:
            raise ValueError("a prediction needs at least one genre probability")
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @classmethod
    def from_prediction(
        cls,
        prediction: Prediction,
        *,
        platform: Platform,
        source_kind: SourceKind,
        source_ref: str,
        image_sha256: str,
        server_id: str | None = None,
        channel_id: str | None = None,
        message_id: str | None = None,
        requester_id: str | None = None,
    ) -> PredictionRecord:
        """From the model's `Prediction`, as the front ends have it."""
        return cls(
            platform=platform,
            source_kind=source_kind,
            source_ref=source_ref,
            image_sha256=image_sha256,
            model_version=prediction.model_version,
            probabilities={g.genre: float(g.probability) for g in prediction.genres},
            popularity=float(prediction.popularity.value),
            tags=[(t.tag, float(t.score)) for t in prediction.tags],
            features=prediction.features,
            read_text=prediction.text,
            server_id=server_id,
            channel_id=channel_id,
            message_id=message_id,
            requester_id=requester_id,
        )


@dataclass(frozen=True)
class StoredPrediction:
    id: int
    created: float
    platform: Platform
    server_id: str | None
    channel_id: str | None
    message_id: str | None
    requester_id: str | None
    source_kind: SourceKind
    source_ref: str
    image_sha256: str
    model_version: str
    top_genre: str
    probabilities: dict[str, float]
    popularity: float
    tags: list[tuple[str, float]]
    features: np.ndarray = field(repr=False, compare=False)  # float32, decoded from float16


@dataclass(frozen=True)
class VotedCover:
    """One voted image: its predictions (oldest first) and its pooled ballot (`labels.pool_votes`)."""

    image_sha256: str
    predictions: list[tuple[str, str]]  # (model_version, top_genre)
    votes: list[Vote]

    def top_genre_by(self, model_version: str) -> str | None:
        """The top genre of this model version's latest prediction of the cover; None if it made none."""
        return next((top for version, top in reversed(self.predictions) if version == model_version), None)


@dataclass(frozen=True)
class RetrainRun:
    id: int
    started: float
    finished: float | None
    status: RunStatus
    trigger: Trigger
    summary: dict[str, Any] | None
    pid: int
    heartbeat: float


@dataclass(frozen=True)
class Stats:
    predictions: int
    votes: int
    voters: int  # distinct voter ids
    last_retrain: RetrainRun | None


def encode_features(features: np.ndarray) -> bytes:
    return np.asarray(features, dtype=np.float32).ravel().astype(FEATURE_DTYPE).tobytes()


def decode_features(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=FEATURE_DTYPE).astype(np.float32)


def encode_record(record: PredictionRecord) -> dict[str, Any]:
    """Column values for a `predictions` row, except id and created."""
    return {
        "platform": record.platform,
        "server_id": record.server_id,
        "channel_id": record.channel_id,
        "message_id": record.message_id,
        "requester_id": record.requester_id,
        "source_kind": record.source_kind,
        "source_ref": record.source_ref,
        "image_sha256": record.image_sha256,
        "model_version": record.model_version,
        "top_genre": record.top_genre,
        "probabilities": json.dumps({g: float(p) for g, p in record.probabilities.items()}),
        "popularity": float(record.popularity),
        "tags": json.dumps([[tag, float(score)] for tag, score in record.tags]),
        "features": encode_features(record.features),
        "read_text": record.read_text,
    }


def decode_prediction(row: sqlite3.Row) -> StoredPrediction:
    return StoredPrediction(
        id=row["id"],
        created=row["created"],
        platform=row["platform"],
        server_id=row["server_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        requester_id=row["requester_id"],
        source_kind=row["source_kind"],
        source_ref=row["source_ref"],
        image_sha256=row["image_sha256"],
        model_version=row["model_version"],
        top_genre=row["top_genre"],
        probabilities=json.loads(row["probabilities"]),
        popularity=row["popularity"],
        tags=[(tag, score) for tag, score in json.loads(row["tags"])],
        features=decode_features(row["features"]),
    )


def decode_vote(row: sqlite3.Row) -> Vote:
    return Vote(
        voter_id=row["voter_id"], label=row["label"], is_admin=bool(row["is_admin"]), created=row["created"]
    )


def pooled_votes(cover_of: dict[int, str], rows: list[sqlite3.Row]) -> dict[str, list[Vote]]:
    """`VOTES_SQL` rows pooled by cover."""
    return pool_votes(cover_of, ((row["prediction_id"], row["platform"], decode_vote(row)) for row in rows))


def decode_run(row: sqlite3.Row) -> RetrainRun:
    return RetrainRun(
        id=row["id"],
        started=row["started"],
        finished=row["finished"],
        status=row["status"],
        trigger=row["trigger"],
        summary=None if row["summary"] is None else json.loads(row["summary"]),
        pid=row["pid"],
        heartbeat=row["heartbeat"],
    )
